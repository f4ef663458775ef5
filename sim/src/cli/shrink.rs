//! `mcsim shrink FILE --seed S`: the smallest scenario that still fails the
//! same way, printed and saved.

use std::path::{Path, PathBuf};

use memcache_sim::check::{CheckOptions, check};
use memcache_sim::exit;
use memcache_sim::scenario;
use memcache_sim::shrink;
use memcache_sim::sim;

/// Shrinks, prints, saves; returns the exit status.
pub fn run(path: &Path, seed: u64, out: Option<PathBuf>) -> u8 {
    let loaded = match scenario::load(path) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
    };
    let verdict = match sim::run(&loaded.config_for(seed), seed) {
        Ok(outcome) => check(&outcome.history, CheckOptions::default()).verdict,
        Err(error) => {
            eprintln!("mcsim: {error}");
            return exit::USAGE;
        }
    };
    if loaded.expect.contains(&verdict) && !verdict.is_correctness_failure() {
        eprintln!(
            "mcsim: {} seed {seed} passes ({verdict}); there is no failure to shrink",
            path.display()
        );
        return exit::USAGE;
    }
    let shrunk = shrink::shrink(&loaded, seed, verdict);
    let out = out.unwrap_or_else(|| {
        let stem = path
            .file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}-shrunk-seed{seed}.toml"))
    });
    let body = toml::to_string(&shrunk.scenario).expect("scenarios serialise");
    let text = format!(
        "# Shrunk by `mcsim shrink {} --seed {seed}`: {} workload ops still give {}.\n# Replay: mcsim repro {} --seed {seed}\n{body}",
        path.display(),
        shrunk.ops,
        shrunk.verdict,
        out.display()
    );
    if let Err(error) = std::fs::write(&out, &text) {
        eprintln!("mcsim: cannot write {}: {error}", out.display());
        return exit::HARNESS;
    }
    outln!("{text}");
    outln!(
        "shrunk to {} workload ops in {} attempts; saved {}; replay: mcsim repro {} --seed {seed}",
        shrunk.ops,
        shrunk.attempts,
        out.display(),
        out.display()
    );
    exit::OK
}
