//! How a `bench real` report reads: the table (medians, spread, a warning
//! under every noisy point) and the SVG plot of ops/s by client count.

use super::real::{Mix, OPS_SPREAD_NOISY, P999_SPREAD_NOISY, RealBenchPoint, RealBenchReport};

/// A figure with two decimals, or `-` where it was not measured (a client
/// process's round trips and retries).
fn unseen_or(figure: Option<f64>) -> String {
    figure.map_or_else(|| "-".to_owned(), |figure| format!("{figure:.2}"))
}

/// The human-readable table: medians over the rounds, the ops/s spread,
/// and a warning under every noisy point.
pub fn render_table(report: &RealBenchReport) -> String {
    let mut out = format!(
        "{} ({} shard(s), backoff {}-{} us, deferred links {}) on local memcached ({} server(s)), {} prefilled, \
         {} s per point, {} round(s) per point (medians; rounds interleaved)\n",
        if report.own_deques {
            "a deque per client, no contention"
        } else {
            "one deque shared by every client"
        },
        report.shards,
        report.backoff_us.0,
        report.backoff_us.1,
        if report.deferred_link { "on" } else { "off" },
        report.servers,
        report.prefill_items,
        report.duration_s,
        report.rounds,
    );
    out.push_str(
        "variant            mix        value B clients      ops/s   spread  req/op  rt/op retry/op retry max  p50 us  \
         p99 us p99.9 us   jain errors\n",
    );
    for p in &report.points {
        let spread = (p.ops_per_s_max - p.ops_per_s_min) / p.ops_per_s.max(f64::MIN_POSITIVE);
        out.push_str(&format!(
            "{:<18} {:<10} {:>7} {:>7} {:>10.0} {:>7.0}% {:>7.2} {:>6} {:>8} {:>9} {:>7} {:>7} {:>8} {:>6.3} {:>6}{}\n",
            p.variant,
            p.mix.name(),
            p.value_size_bytes,
            p.clients,
            p.ops_per_s,
            spread * 100.0,
            p.requests_per_op,
            unseen_or(p.round_trips_per_op),
            unseen_or(p.retries_per_op),
            p.retries_op_max.map_or_else(|| "-".to_owned(), |max| max.to_string()),
            p.latency_us_p50,
            p.latency_us_p99,
            p.latency_us_p999,
            p.jain_index,
            p.errors,
            if p.noisy { "  noisy" } else { "" }
        ));
    }
    out.push_str(&retry_causes_table(report));
    let noisy: Vec<&RealBenchPoint> = report.points.iter().filter(|p| p.noisy).collect();
    if !noisy.is_empty() {
        out.push_str(&format!(
            "warning: {} point(s) are noisy (rounds spread over {:.0}% in ops/s or {:.0}% in p99.9: {}); \
             compare them with care, or measure again with more --rounds or a longer --duration-s\n",
            noisy.len(),
            OPS_SPREAD_NOISY * 100.0,
            P999_SPREAD_NOISY * 100.0,
            noisy
                .iter()
                .map(|p| format!(
                    "{} {} {} B {} clients: p99.9 {}-{} us",
                    p.variant,
                    p.mix.name(),
                    p.value_size_bytes,
                    p.clients,
                    p.latency_us_p999_min,
                    p.latency_us_p999_max
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    out
}

/// Retries per operation by cause, one row per point whose handles counted
/// them (not a client process's, nor a report's from before they were).
fn retry_causes_table(report: &RealBenchReport) -> String {
    let rows: Vec<String> = report
        .points
        .iter()
        .filter_map(|p| {
            let c = p.retry_causes_per_op?;
            Some(format!(
                "{:<18} {:<10} {:>7} {:>7} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3}\n",
                p.variant,
                p.mix.name(),
                p.value_size_bytes,
                p.clients,
                c.cas_lost_on_guess,
                c.cas_lost_after_read,
                c.helped_push,
                c.node_gone,
                c.reply_lost
            ))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut out = "retries per op by cause: the anchor CAS lost on the client's guessed anchor (guess) or after a \
                   fresh read (read), another client's half-done push finished first (helped), a pop's node gone \
                   (gone), a lost reply retried (reply; broken variants only)\n"
        .to_owned();
    out.push_str("variant            mix        value B clients    guess     read   helped     gone    reply\n");
    out.extend(rows);
    out
}

/// An SVG line chart of ops/s against client count, one line per
/// (variant, mix, value size), through the measured points only, with each
/// point's slowest-to-fastest rounds as a bar.
pub fn render_svg(report: &RealBenchReport) -> String {
    const WIDTH: f64 = 980.0;
    const HEIGHT: f64 = 440.0;
    const MARGIN: f64 = 70.0;
    // The legend's column, right of the plot.
    const LEGEND: f64 = 240.0;
    let clients_max = report.points.iter().map(|p| p.clients).max().unwrap_or(1).max(2) as f64;
    let ops_max = report.points.iter().map(|p| p.ops_per_s_max).fold(1.0, f64::max) * 1.1;
    let x = |clients: f64| MARGIN + (clients / clients_max) * (WIDTH - 2.0 * MARGIN - LEGEND);
    let y = |ops: f64| HEIGHT - MARGIN - (ops / ops_max) * (HEIGHT - 2.0 * MARGIN);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{MARGIN}\" y=\"24\">ops/s by client count (backoff {}-{} us, {} server(s), median of {} round(s); bars: slowest to fastest round)</text>\n\
         <line x1=\"{MARGIN}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <line x1=\"{MARGIN}\" y1=\"{MARGIN}\" x2=\"{MARGIN}\" y2=\"{b}\" stroke=\"black\"/>\n\
         <text transform=\"translate(16 {mid}) rotate(-90)\" text-anchor=\"middle\">operations per second, all clients</text>\n",
        report.backoff_us.0,
        report.backoff_us.1,
        report.servers,
        report.rounds,
        b = HEIGHT - MARGIN,
        r = WIDTH - MARGIN - LEGEND,
        mid = HEIGHT / 2.0,
    );
    for tick in 0..=4 {
        let ops = ops_max * f64::from(tick) / 4.0;
        svg.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{:.0}</text>\n",
            MARGIN - 6.0,
            y(ops) + 4.0,
            ops
        ));
    }
    let mut counts: Vec<usize> = report.points.iter().map(|p| p.clients).collect();
    counts.sort_unstable();
    counts.dedup();
    for c in counts {
        svg.push_str(&format!(
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">{c}</text>\n",
            x(c as f64),
            HEIGHT - MARGIN + 16.0
        ));
    }
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
        "#393b79", "#ad494a",
    ];
    let mut series: Vec<(&str, Mix, usize)> = report
        .points
        .iter()
        .map(|p| (p.variant.as_str(), p.mix, p.value_size_bytes))
        .collect();
    series.dedup();
    for (row, (variant, mix, size)) in series.iter().enumerate() {
        let colour = colours[row % colours.len()];
        let points: Vec<&RealBenchPoint> = report
            .points
            .iter()
            .filter(|p| p.variant == *variant && p.mix == *mix && p.value_size_bytes == *size)
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.clients as f64), y(p.ops_per_s)))
            .collect();
        svg.push_str(&format!(
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>\n\
             <text x=\"{:.0}\" y=\"{:.0}\" fill=\"{colour}\">{variant} {} {size} B</text>\n",
            path.join(" "),
            WIDTH - LEGEND - 20.0,
            MARGIN + 16.0 * row as f64,
            mix.name(),
        ));
        for p in points {
            svg.push_str(&format!(
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{1:.1}\" y2=\"{2:.1}\" stroke=\"{colour}\"/>\n",
                x(p.clients as f64),
                y(p.ops_per_s_min),
                y(p.ops_per_s_max)
            ));
        }
    }
    svg.push_str(&format!(
        "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"middle\">clients</text>\n</svg>\n",
        (WIDTH - LEGEND) / 2.0,
        HEIGHT - 24.0
    ));
    svg
}
