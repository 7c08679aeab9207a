// RenderHtml: the report document drawn as one page. Charts are hand-written
// SVG (a polyline per series, a circle per point, axis labels), the tables
// hold the same numbers; no script, no font or image fetched.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "model/snapshot.h"
#include "report/report.h"

namespace efs2s3::report {

namespace {

using nlohmann::json;

struct Point {
  double x = 0, y = 0;
  std::string label;  // the point's tooltip
};
struct Series {
  std::string name;
  std::vector<Point> points;
};

const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

std::string Bytes(double n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (n >= 1024 && u < 5) {
    n /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", n)
                : fmt::format("{:.1f} {}", n, units[u]);
}

double Seconds(const std::string& time) {
  auto t = model::ParseTime(time);
  return t ? static_cast<double>(*t) / 1e9 : 0;
}

std::string Text(const json& j) {
  if (j.is_string()) return EscapeHtml(j.get<std::string>());
  if (j.is_null()) return "";
  if (j.is_number_float()) return fmt::format("{:.3g}", j.get<double>());
  return EscapeHtml(j.dump());
}

// A line chart: x and y scaled to the data, a legend per series.
std::string Chart(const std::string& name, const std::string& title,
                  const std::vector<Series>& series, bool bytes,
                  bool x_is_time = true) {
  constexpr double W = 760, H = 240, L = 70, R = 10, T = 10, B = 30;
  double x0 = 1e300, x1 = -1e300, y1 = 0;
  size_t n = 0;
  for (const auto& s : series)
    for (const auto& p : s.points) {
      x0 = std::min(x0, p.x);
      x1 = std::max(x1, p.x);
      y1 = std::max(y1, p.y);
      ++n;
    }
  std::string out = fmt::format(
      "<figure><figcaption>{}</figcaption>\n<svg class=\"chart\" "
      "data-chart=\"{}\" data-points=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\" aria-label=\"{}\">\n",
      EscapeHtml(title), name, n, W, H, EscapeHtml(title));
  out += fmt::format(
      "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" class=\"axis\"/>"
      "<line x1=\"{0}\" y1=\"{3}\" x2=\"{0}\" y2=\"{1}\" class=\"axis\"/>\n",
      L, H - B, W - R, T);
  if (n == 0) {
    out +=
        fmt::format("<text x=\"{}\" y=\"{}\">no data</text></svg></figure>\n",
                    W / 2 - 30, H / 2);
    return out;
  }
  if (x1 <= x0) x1 = x0 + 1;
  if (y1 <= 0) y1 = 1;
  auto sx = [&](double x) { return L + (x - x0) / (x1 - x0) * (W - L - R); };
  auto sy = [&](double y) { return H - B - y / y1 * (H - B - T); };
  out += fmt::format(
      "<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text>"
      "<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">0</text>\n",
      L - 4, T + 10, EscapeHtml(bytes ? Bytes(y1) : fmt::format("{:g}", y1)),
      L - 4, H - B);
  if (x_is_time) {
    auto day = [](double t) {
      return model::FormatTime(static_cast<std::int64_t>(t) * 1000000000)
          .substr(0, 10);
    };
    out += fmt::format(
        "<text x=\"{}\" y=\"{}\" class=\"tick\">{}</text>"
        "<text x=\"{}\" y=\"{}\" class=\"tick\" "
        "text-anchor=\"end\">{}</text>\n",
        L, H - 8, day(x0), W - R, H - 8, day(x1));
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const char* colour = kColours[i % std::size(kColours)];
    std::string pts;
    for (const auto& p : series[i].points)
      pts += fmt::format("{:.1f},{:.1f} ", sx(p.x), sy(p.y));
    out += fmt::format(
        "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" "
        "points=\"{}\"/>\n",
        colour, pts);
    for (const auto& p : series[i].points)
      out += fmt::format(
          "<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" "
          "fill=\"{}\"><title>{}</title></circle>\n",
          sx(p.x), sy(p.y), colour, EscapeHtml(p.label));
  }
  out += "</svg>\n<ul class=\"legend\">";
  for (size_t i = 0; i < series.size(); ++i)
    out += fmt::format("<li><span style=\"background:{}\"></span>{}</li>",
                       kColours[i % std::size(kColours)],
                       EscapeHtml(series[i].name));
  out += "</ul></figure>\n";
  return out;
}

// A table of `rows` (JSON objects) with these columns (key, heading).
std::string Table(
    const std::string& caption, const json& rows,
    const std::vector<std::pair<std::string, std::string>>& cols) {
  std::string out =
      "<table>\n<caption>" + EscapeHtml(caption) + "</caption>\n<thead><tr>";
  for (const auto& [key, heading] : cols)
    out += "<th scope=\"col\">" + EscapeHtml(heading) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const json& r : rows) {
    out += "<tr>";
    for (const auto& [key, heading] : cols) {
      const json v = r.contains(key) ? r.at(key) : json(nullptr);
      std::string cell;
      if (v.is_array()) {
        for (const auto& e : v)
          cell += (cell.empty() ? "" : ", ") +
                  (e.is_string() ? EscapeHtml(e.get<std::string>()) : Text(e));
      } else {
        cell = Text(v);
      }
      out += "<td>" + cell + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

constexpr const char* kStyle = R"(
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}
svg.chart{width:100%;max-width:760px;height:auto;background:#fafafa;border:1px solid #ddd}
.axis{stroke:#888}.tick{font-size:11px;fill:#555}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1em;font-size:.9em}
ul.legend span{display:inline-block;width:.8em;height:.8em;margin-right:.3em}
table{border-collapse:collapse;margin:1em 0;font-size:.85em}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#eee}.ok{color:#080}.failed{color:#b00}.warning{color:#a60}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:600}
)";

std::string StatusSpan(const json& status) {
  std::string s = status.is_string() ? status.get<std::string>() : "";
  return "<span class=\"" + EscapeHtml(s) + "\">" + EscapeHtml(s) + "</span>";
}

std::string StepResult(const char* what, const json& r) {
  std::string out = fmt::format("<h3>Last {}</h3>\n", what);
  if (r.is_null())
    return out + "<p>none recorded in the job's state directory</p>\n";
  out += "<dl><dt>job</dt><dd>" + Text(r["job"]) + "</dd><dt>time</dt><dd>" +
         Text(r["time"]) + "</dd><dt>status</dt><dd>" +
         StatusSpan(r["status"]) + "</dd>";
  for (const auto& [k, v] : r["figures"].items())
    if (!v.is_structured() || v.is_array())
      out += "<dt>" + EscapeHtml(k) + "</dt><dd>" +
             (v.is_array() ? fmt::format("{} entries", v.size()) : Text(v)) +
             "</dd>";
  out += "</dl>\n";
  for (const auto& e : r["errors"])
    out += "<p class=\"failed\">" + Text(e) + "</p>\n";
  return out;
}

}  // namespace

std::string RenderHtml(const json& r) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
      "'none'; style-src 'unsafe-inline'; img-src data:\">\n"
      "<title>efs2s3 report: " +
      Text(r["repository"]) + "</title>\n<style>" + kStyle +
      "</style>\n</head>\n<body>\n<h1>efs2s3 report: " + Text(r["repository"]) +
      "</h1>\n";
  const json& g = r["growth"];
  out +=
      "<dl><dt>generated</dt><dd>" + Text(r["generated"]) +
      "</dd><dt>since</dt><dd>" +
      (r["since"].is_null() ? std::string("the first snapshot")
                            : Text(r["since"])) +
      "</dd><dt>snapshots</dt><dd>" + Text(r["snapshots"]) +
      "</dd><dt>stored</dt><dd>" + Bytes(g["stored_bytes"].get<double>()) +
      " in " + Text(g["packs"]) + " packs</dd><dt>dedup ratio</dt><dd>" +
      Text(g["dedup_ratio"]) + "</dd><dt>compression ratio</dt><dd>" +
      Text(g["compression_ratio"]) +
      "</dd><dt>estimated monthly cost</dt><dd>" +
      (g["monthly_cost_usd"].is_null()
           ? std::string("not estimated (not an S3 repository)")
           : fmt::format("{:.2f} USD", g["monthly_cost_usd"].get<double>())) +
      "</dd></dl>\n";

  // Timeline.
  out += "<h2 id=\"timeline\">Snapshots</h2>\n";
  std::vector<Series> added, files, duration;
  json rows = json::array();
  for (const json& grp : r["timeline"]) {
    std::string name =
        grp["host"].get<std::string>() + " " +
        fmt::format(
            "{}", fmt::join(grp["paths"].get<std::vector<std::string>>(), ","));
    Series a{name, {}}, f{name, {}}, d{name, {}};
    for (const json& s : grp["snapshots"]) {
      double t = Seconds(s["time"]);
      std::string label = s["time"].get<std::string>() + " " +
                          s["id"].get<std::string>().substr(0, 8);
      a.points.push_back({t, s["bytes_added"].get<double>(), label});
      f.points.push_back(
          {t, s["files_new"].get<double>() + s["files_changed"].get<double>(),
           label});
      d.points.push_back({t, s["duration_seconds"].get<double>(), label});
      json row = s;
      row["id"] = s["id"].get<std::string>().substr(0, 8);
      row["group"] = name;
      rows.push_back(row);
    }
    added.push_back(std::move(a));
    files.push_back(std::move(f));
    duration.push_back(std::move(d));
  }
  out += Chart("bytes-added", "Bytes added per snapshot", added, true);
  out +=
      Chart("files-changed", "Files new or changed per snapshot", files, false);
  out += Chart("duration", "Backup duration (seconds)", duration, false);
  out += Table("Snapshots", rows,
               {{"group", "host, paths"},
                {"time", "time"},
                {"id", "ID"},
                {"partial", "partial"},
                {"files_new", "files new"},
                {"files_changed", "files changed"},
                {"bytes_total", "bytes total"},
                {"bytes_added", "bytes added"},
                {"bytes_stored", "bytes stored"},
                {"duration_seconds", "duration (s)"},
                {"errors", "errors"},
                {"tags", "tags"}});

  // Growth.
  out += "<h2 id=\"growth\">Repository growth</h2>\n";
  Series stored{"stored by the backups", {}};
  for (const json& p : g["per_snapshot"])
    stored.points.push_back({Seconds(p["time"]),
                             p["bytes_stored_cumulative"].get<double>(),
                             p["time"].get<std::string>()});
  out += Chart("stored", "Bytes stored by the snapshots' backups, cumulative",
               {stored}, true);
  std::map<std::string, Series> classes;
  json day_rows = json::array();
  for (const json& p : g["per_day"]) {
    // Packs of a backend that does not date its objects are in the table
    // only.
    const bool dated = p["date"] != "unknown";
    const double t =
        dated ? Seconds(p["date"].get<std::string>() + "T00:00:00Z") : 0;
    for (const auto& [c, b] : p["bytes_by_class"].items()) {
      classes[c].name = c;
      if (dated)
        classes[c].points.push_back(
            {t, b.get<double>(), p["date"].get<std::string>()});
      day_rows.push_back({{"date", p["date"]}, {"class", c}, {"bytes", b}});
    }
  }
  std::vector<Series> class_series;
  for (auto& [c, s] : classes) class_series.push_back(std::move(s));
  out += Chart("storage-classes",
               "Stored bytes per storage class (pack writes, cumulative)",
               class_series, true);
  json class_rows = json::array();
  for (const auto& [c, b] : g["stored_bytes_by_class"].items())
    class_rows.push_back(
        {{"class", c},
         {"bytes", b},
         {"monthly_cost_usd",
          g["monthly_cost_usd_by_class"].value(c, json(nullptr))}});
  out += Table("Stored bytes per storage class today", class_rows,
               {{"class", "storage class"},
                {"bytes", "bytes"},
                {"monthly_cost_usd", "estimated USD per month"}});
  out +=
      Table("Stored bytes per storage class over time", day_rows,
            {{"date", "date"}, {"class", "storage class"}, {"bytes", "bytes"}});

  // Retention.
  const json& ret = r["retention"];
  out += "<h2 id=\"retention\">Retention</h2>\n";
  if (ret["policy"].is_null()) {
    out += "<p>No retention policy given (report --job or --keep-*).</p>\n";
  } else {
    std::string rules;
    for (const auto& [k, v] : ret["policy"].items()) {
      bool set = v.is_number() ? v.get<double>() != 0 : !v.empty();
      if (set && k != "group_by")
        rules += (rules.empty() ? "" : ", ") + EscapeHtml(k) + " " +
                 (v.is_array() ? Text(v) : Text(v));
    }
    out += "<p>Policy from " + Text(ret["policy_source"]) + ": " + rules +
           " (grouped by " + Text(ret["policy"]["group_by"]) +
           "). The next forget keeps " + Text(ret["keep"]) + " and removes " +
           Text(ret["remove"]) + " snapshots.</p>\n";
    out += Table("What the policy keeps today", ret["snapshots"],
                 {{"time", "time"},
                  {"id", "ID"},
                  {"host", "host"},
                  {"paths", "paths"},
                  {"action", "next forget"},
                  {"reasons", "kept by"}});
  }

  // Checks, drills and job runs.
  out += "<h2 id=\"jobs\">Checks, drills and job runs</h2>\n";
  out += StepResult("check", r["last_check"]);
  out += StepResult("drill", r["last_drill"]);
  json run_rows = json::array();
  for (const json& run : r["job_runs"]) {
    json row = run;
    std::vector<std::string> steps;
    for (const json& s : run["steps"])
      steps.push_back(s["name"].get<std::string>() + ": " +
                      s["status"].get<std::string>());
    row["steps"] = steps;
    run_rows.push_back(row);
  }
  out += Table("Job runs", run_rows,
               {{"job", "job"},
                {"started", "started"},
                {"finished", "finished"},
                {"status", "status"},
                {"exit_code", "exit code"},
                {"steps", "steps"}});
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace efs2s3::report
