//! `mcsim bench ...`: printing the three benchmarks' reports.

use memcache_sim::bench;
use memcache_sim::exit;

fn print<T: serde::Serialize>(json: bool, report: &T, table: impl FnOnce() -> String) {
    if json {
        outln!("{}", serde_json::to_string_pretty(report).expect("reports serialise"));
    } else {
        out!("{}", table());
    }
}

/// `mcsim bench real`.
pub fn real(config: &bench::real::RealBenchConfig, json: bool, out: Option<&std::path::Path>) -> u8 {
    match bench::real::run(config) {
        Ok(report) => {
            print(json, &report, || bench::real::render_table(&report));
            if let Some(dir) = out {
                let written = std::fs::create_dir_all(dir)
                    .and_then(|()| {
                        let text = serde_json::to_string_pretty(&report).expect("reports serialise");
                        std::fs::write(dir.join("bench-real.json"), text)
                    })
                    .and_then(|()| std::fs::write(dir.join("bench-real.svg"), bench::real::render_svg(&report)));
                if let Err(error) = written {
                    eprintln!("mcsim: cannot write the report under {}: {error}", dir.display());
                    return exit::HARNESS;
                }
                eprintln!("wrote {0}/bench-real.json and {0}/bench-real.svg", dir.display());
            }
            exit::OK
        }
        Err(error) => {
            eprintln!("mcsim: {error}");
            exit::HARNESS
        }
    }
}

/// `mcsim bench sim`.
pub fn sim(ops: u64, clients: u32, seed: u64, faults_off_only: bool, json: bool) -> u8 {
    let modes: &[bool] = if faults_off_only { &[false] } else { &[false, true] };
    let mut points = Vec::new();
    for &faults in modes {
        match bench::sim::measure(clients, ops, faults, seed) {
            Ok(point) => points.push(point),
            Err(error) => {
                eprintln!("mcsim: {error}");
                return exit::HARNESS;
            }
        }
    }
    print(json, &points, || bench::sim::render_table(&points));
    exit::OK
}

/// `mcsim bench checker`.
pub fn checker(sizes: &[usize], clients: &[u32], seed: u64, json: bool) -> u8 {
    let mut points = Vec::new();
    for &ops in sizes {
        for &c in clients {
            points.push(bench::checker::measure(c, ops, seed));
        }
    }
    print(json, &points, || bench::checker::render_table(&points));
    let undecided = points
        .iter()
        .any(|p| p.verdict != memcache_sim::check::Verdict::Linearizable);
    if undecided {
        eprintln!(
            "FAIL: a generated (linearizable) history was not judged linearizable; replay: mcsim bench checker --seed {seed}"
        );
        return exit::HARNESS;
    }
    exit::OK
}
