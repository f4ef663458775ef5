//! The files a run leaves under a report directory: its JSON record
//! (`<scenario>/seed-<S>.json`), and for an unexpected run its history
//! (`seed-<S>.history.json`, for `mcsim check`; the only evidence of a real
//! run, which cannot be replayed) and, when its trace was kept, its HTML
//! page (`<scenario>-seed<S>.html`).

use std::path::{Path, PathBuf};

use crate::output::html::{ReportInput, html};
use crate::pipeline::Ran;

/// The HTML page of `ran` under `dir`: `<scenario>-seed<S>.html`, with the
/// variant in the name when the command line chose it.
pub fn page_path(dir: &Path, ran: &Ran) -> PathBuf {
    let record = &ran.record;
    let variant = if record.variant_overridden {
        format!("-{}", record.variant)
    } else {
        String::new()
    };
    dir.join(format!("{}-seed{}{variant}.html", record.scenario, record.seed))
}

/// Writes the HTML page of `ran` under `dir` (with the explanation of its
/// failure, if any) and returns its path.
pub fn write_page(dir: &Path, ran: &Ran) -> std::io::Result<PathBuf> {
    let explanation = ran.judgement.explanation(&ran.outcome);
    let configuration = ran.plan.describe();
    let page = html(&ReportInput {
        record: &ran.record,
        outcome: &ran.outcome,
        explanation: explanation.as_ref(),
        configuration: &configuration,
    });
    std::fs::create_dir_all(dir)?;
    let path = page_path(dir, ran);
    std::fs::write(&path, page)?;
    Ok(path)
}

/// Writes what `ran` leaves under `dir` for `mcsim run --report`.
pub fn write_run(dir: &Path, ran: &Ran) -> std::io::Result<()> {
    let record = &ran.record;
    let scenario_dir = dir.join(&record.scenario);
    std::fs::create_dir_all(&scenario_dir)?;
    let text = serde_json::to_string_pretty(record).expect("records serialise");
    std::fs::write(scenario_dir.join(format!("seed-{}.json", record.seed)), text)?;
    if !record.expected {
        // An MCAS run's history in its own format, which `mcsim check`
        // recognises by its subject.
        let text = match &ran.outcome.mcas {
            Some(bank) => serde_json::to_string_pretty(&bank.history),
            None => serde_json::to_string_pretty(&ran.outcome.history),
        }
        .expect("histories serialise");
        std::fs::write(scenario_dir.join(format!("seed-{}.history.json", record.seed)), text)?;
        if ran.plan.keep_trace {
            write_page(dir, ran)?;
        }
    }
    Ok(())
}
