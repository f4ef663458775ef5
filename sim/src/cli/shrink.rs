//! `mcsim shrink FILE --seed S`: the smallest scenario that still fails the
//! same way, printed and saved with the command that replays it.

use std::path::PathBuf;

use memcache_sim::algorithm::Algorithm;
use memcache_sim::plan::{Overrides, RunPlan};
use memcache_sim::replay::{Replay, Source};
use memcache_sim::{exit, pipeline, shrink};

/// `mcsim shrink`'s arguments.
#[derive(clap::Args)]
pub struct ShrinkArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The failing seed.
    #[arg(long)]
    pub seed: u64,
    /// Run this algorithm variant instead of the scenario's own (as the
    /// `run --variant` that found the failure did); the shrunk scenario
    /// names it, so it replays without the option.
    #[arg(long, value_parser = super::parse_variant)]
    pub variant: Option<Algorithm>,
    /// Where to save the shrunk scenario (default:
    /// `reports/<name>-shrunk-seed<S>.toml`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Shrinks, prints, saves; returns the exit status.
pub fn run(args: &ShrinkArgs) -> u8 {
    let loaded = match super::load_for(&args.scenario, args.variant) {
        Ok(loaded) => loaded,
        Err(status) => return status,
    };
    let overrides = Overrides {
        variant: args.variant,
        ..Overrides::default()
    };
    let plan = RunPlan::for_scenario(&loaded, args.seed, overrides);
    let replay = plan.replay();
    let judgement = pipeline::run(plan, pipeline::quiet()).judgement;
    if judgement.expected {
        eprintln!(
            "mcsim: {replay} passes ({}: {}); there is no failure to shrink",
            judgement.verdict, judgement.reason
        );
        return exit::USAGE;
    }
    if judgement.verdict.is_harness_failure() {
        eprintln!(
            "mcsim: {replay} ends {}: {}; a harness failure is not shrunk",
            judgement.verdict, judgement.reason
        );
        return exit::HARNESS;
    }
    let shrunk = shrink::shrink(&loaded, args.seed, overrides, judgement.verdict);
    let out = args.out.clone().unwrap_or_else(|| {
        let variant = args.variant.map_or(String::new(), |v| format!("-{}", v.name()));
        PathBuf::from("reports").join(format!("{}-shrunk-seed{}{variant}.toml", loaded.name, args.seed))
    });
    let shrunk_replay = Replay {
        source: Source::Scenario(out.clone()),
        seed: args.seed,
        variant: None,
        backend: overrides.backend,
        client_command: None,
        self_check: false,
    };
    let body = toml::to_string(&shrunk.scenario).expect("scenarios serialise");
    let text = format!(
        "# Shrunk by `mcsim shrink {}`: {} workload ops still give {}.\n# Replay: {shrunk_replay}\n{body}",
        shrink_command(args),
        shrunk.ops,
        shrunk.verdict,
    );
    let written = out
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&out, &text));
    if let Err(error) = written {
        eprintln!("mcsim: cannot write {}: {error}", out.display());
        return exit::HARNESS;
    }
    outln!("{text}");
    outln!(
        "shrunk to {} workload ops in {} attempts; saved {}; replay: {shrunk_replay}",
        shrunk.ops,
        shrunk.attempts,
        out.display(),
    );
    exit::OK
}

/// The shrink command as given, for the saved file's header.
fn shrink_command(args: &ShrinkArgs) -> String {
    let mut command = format!("{} --seed {}", args.scenario.display(), args.seed);
    if let Some(variant) = args.variant {
        command.push_str(&format!(" --variant {}", variant.name()));
    }
    command
}
