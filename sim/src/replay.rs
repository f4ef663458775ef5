//! The command that runs a run again: one type, whose `Display` is the
//! command line, used by every place that prints one (the run summary,
//! `repro`, `shrink`, `validate`, `sim`, the HTML page, JSON records and
//! JUnit). A simulated run replays exactly (`mcsim repro`, same trace
//! hash); a real run can only be run again with the same choices (`mcsim run
//! ... --backend real`), since the operating system owns its interleaving.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::algorithm::Algorithm;

use crate::capability::Backend;

/// Where a run's description lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A scenario file.
    Scenario(PathBuf),
    /// A bare configuration file for `mcsim sim`, or its defaults.
    Config(Option<PathBuf>),
}

impl Source {
    /// The file, if any, for messages.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Scenario(path) => Some(path),
            Source::Config(path) => path.as_deref(),
        }
    }
}

/// Everything that makes a run what it is, as a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The scenario or configuration.
    pub source: Source,
    pub seed: u64,
    /// The variant, when the command line overrode the file's.
    pub variant: Option<Algorithm>,
    /// Where the run happened.
    pub backend: Backend,
    /// The client process the run drove (`--client-cmd`), if any.
    pub client_command: Option<String>,
    /// Run the seed twice and compare (`mcsim sim --self-check`): what
    /// replays a determinism failure.
    pub self_check: bool,
}

impl fmt::Display for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.source, self.backend) {
            (Source::Scenario(path), Backend::Sim) => write!(f, "mcsim repro {} --seed {}", quoted(path), self.seed)?,
            (Source::Scenario(path), Backend::Real) => {
                write!(f, "mcsim run {} --seed {} --backend real", quoted(path), self.seed)?
            }
            (Source::Config(path), _) => {
                f.write_str("mcsim sim")?;
                if let Some(path) = path {
                    write!(f, " --config {}", quoted(path))?;
                }
                write!(f, " --seed {}", self.seed)?;
            }
        }
        if let Some(variant) = self.variant {
            write!(f, " --variant {}", variant.name())?;
        }
        if let Some(command) = &self.client_command {
            write!(f, " --client-cmd {}", quoted(Path::new(command)))?;
        }
        if self.self_check {
            f.write_str(" --self-check")?;
        }
        Ok(())
    }
}

/// A path as a shell word: as is when it needs no quoting.
pub fn quoted(path: &Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./,:+=@".contains(&b));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replay(source: Source, variant: Option<Algorithm>, backend: Backend) -> String {
        Replay {
            source,
            seed: 7,
            variant,
            backend,
            client_command: None,
            self_check: false,
        }
        .to_string()
    }

    #[test]
    fn a_client_process_is_named_as_one_shell_word() {
        let replay = Replay {
            source: Source::Scenario("scenarios/clean.toml".into()),
            seed: 2,
            variant: None,
            backend: Backend::Real,
            client_command: Some("python3 -m mcdeque.adapter --variant 'x'".to_owned()),
            self_check: false,
        };
        assert_eq!(
            replay.to_string(),
            r"mcsim run scenarios/clean.toml --seed 2 --backend real --client-cmd 'python3 -m mcdeque.adapter --variant '\''x'\'''"
        );
    }

    #[test]
    fn every_form_names_what_changes_the_run() {
        let file = || Source::Scenario("scenarios/restart.toml".into());
        assert_eq!(
            replay(file(), None, Backend::Sim),
            "mcsim repro scenarios/restart.toml --seed 7"
        );
        assert_eq!(
            replay(
                file(),
                Some(memcache_collections::Variant::Michael2003.into()),
                Backend::Sim
            ),
            "mcsim repro scenarios/restart.toml --seed 7 --variant michael2003"
        );
        assert_eq!(
            replay(file(), None, Backend::Real),
            "mcsim run scenarios/restart.toml --seed 7 --backend real"
        );
        assert_eq!(replay(Source::Config(None), None, Backend::Sim), "mcsim sim --seed 7");
        assert_eq!(
            replay(Source::Config(Some("my faults.toml".into())), None, Backend::Sim),
            "mcsim sim --config 'my faults.toml' --seed 7"
        );
    }
}
