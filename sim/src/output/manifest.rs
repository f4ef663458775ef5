//! What a report directory holds: `manifest.json`, written by
//! `mcsim run --report DIR` before its first run and again after its last,
//! so that `mcsim merge` can prove the directories it sums are the shards
//! of one suite run, all of them, each finished, with nothing stale beside
//! them. Without it a missing shard, a crashed job or a directory reused
//! from an earlier run would merge into a green summary of fewer runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capability::Backend;

/// Shards a manifest may name (more is a corrupt file, not a CI matrix).
pub const SHARDS_MAX: u64 = 100_000;

/// The file's name under a report directory.
pub const FILE: &str = "manifest.json";

/// What one `mcsim run --report DIR` was asked to do, and whether it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The scenario paths as given on the command line.
    pub paths: Vec<String>,
    /// `--seeds N`, if given.
    pub seeds: Option<u64>,
    /// `--seed S`, if given.
    pub seed: Option<u64>,
    /// `--shard K/N`, if given: `[K, N]`.
    pub shard: Option<(u64, u64)>,
    /// `--variant`, if given.
    pub variant: Option<String>,
    /// Where the runs ran.
    pub backend: Backend,
    /// How many runs the selection planned.
    pub runs_planned: usize,
    /// Which runs, by scenario file and variant: what merge matches every
    /// record against, so a record from another shard or run cannot stand
    /// in for one of these.
    pub planned: Vec<PlannedRuns>,
    /// How many records the run wrote: `None` until it finished.
    pub runs_written: Option<usize>,
}

/// The seeds planned for one scenario file and variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedRuns {
    /// The scenario file, as records name it.
    pub path: String,
    /// The variant's name.
    pub variant: String,
    /// The seeds, in order.
    pub seeds: Vec<u64>,
}

pub use crate::plan::RunId;

impl Manifest {
    /// Groups `runs` (in plan order) into [`PlannedRuns`].
    pub fn plan_list(runs: impl IntoIterator<Item = RunId>) -> Vec<PlannedRuns> {
        let mut planned: Vec<PlannedRuns> = Vec::new();
        for (path, variant, seed) in runs {
            match planned.last_mut() {
                Some(last) if last.path == path && last.variant == variant => last.seeds.push(seed),
                _ => planned.push(PlannedRuns {
                    path,
                    variant,
                    seeds: vec![seed],
                }),
            }
        }
        planned
    }

    fn is_planned(&self, (path, variant, seed): &RunId) -> bool {
        self.planned
            .iter()
            .any(|runs| &runs.path == path && &runs.variant == variant && runs.seeds.contains(seed))
    }
}

/// Why a set of report directories is not one whole suite run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    /// The directory has no manifest: not written by `mcsim run --report`.
    #[error("{dir}: no {FILE}; merge reads directories written by `mcsim run --report DIR`")]
    Missing { dir: PathBuf },
    /// The manifest is not valid JSON of the expected shape.
    #[error("{dir}/{FILE}: {reason}")]
    Unreadable { dir: PathBuf, reason: String },
    /// The run that wrote it did not finish.
    #[error("{dir}: its run did not finish (no runs_written in {FILE}); rerun that shard")]
    Unfinished { dir: PathBuf },
    /// The directory holds a different number of records than its run wrote,
    /// or its run wrote fewer than it planned.
    #[error("{dir}: {found} run records, but its run planned {planned} and wrote {written}; stale or missing files")]
    RecordCount {
        dir: PathBuf,
        found: usize,
        planned: usize,
        written: usize,
    },
    /// A record the directory's run did not plan.
    #[error("{dir}: {record} is not a run its manifest planned (a file from another shard or run)")]
    Unplanned { dir: PathBuf, record: String },
    /// Two directories were written by different suite runs.
    #[error("{dir} is not a shard of the same run as {first}: {what} differs")]
    Mismatch {
        dir: PathBuf,
        first: PathBuf,
        what: &'static str,
    },
    /// Two directories hold the same shard.
    #[error("{dir} and {other} are both shard {k}/{n}")]
    DuplicateShard {
        dir: PathBuf,
        other: PathBuf,
        k: u64,
        n: u64,
    },
    /// Some shards of `1..=N` are absent.
    #[error("shard(s) {missing:?} of {n} are missing: merge every shard's directory")]
    MissingShards { missing: Vec<u64>, n: u64 },
}

impl Manifest {
    /// Reads `dir`'s manifest.
    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => ManifestError::Missing { dir: dir.to_path_buf() },
            _ => ManifestError::Unreadable {
                dir: dir.to_path_buf(),
                reason: error.to_string(),
            },
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|error| ManifestError::Unreadable {
            dir: dir.to_path_buf(),
            reason: error.to_string(),
        })?;
        if let Some((k, n)) = manifest.shard
            && (k == 0 || k > n || n > SHARDS_MAX)
        {
            return Err(ManifestError::Unreadable {
                dir: dir.to_path_buf(),
                reason: format!("shard {k}/{n}: K must be between 1 and N, N at most {SHARDS_MAX}"),
            });
        }
        Ok(manifest)
    }

    /// Writes it as `dir`'s manifest.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("manifests serialise");
        std::fs::write(dir.join(FILE), text)
    }

    /// `(K, N)`: an unsharded run is the only shard of one.
    fn shard_or_whole(&self) -> (u64, u64) {
        self.shard.unwrap_or((1, 1))
    }
}

/// Checks that `dirs` (each with its manifest and the runs its records
/// name) are every shard of one finished suite run, once each, each holding
/// exactly the runs it planned.
pub fn check_whole(dirs: &[(PathBuf, Manifest, Vec<RunId>)]) -> Result<(), ManifestError> {
    let Some((first_dir, first, _)) = dirs.first() else {
        return Ok(());
    };
    let mut holders: Vec<Option<&PathBuf>> = vec![None; first.shard_or_whole().1 as usize];
    for (dir, manifest, found) in dirs {
        let written = manifest
            .runs_written
            .ok_or_else(|| ManifestError::Unfinished { dir: dir.clone() })?;
        if found.len() != written || written != manifest.runs_planned {
            return Err(ManifestError::RecordCount {
                dir: dir.clone(),
                found: found.len(),
                planned: manifest.runs_planned,
                written,
            });
        }
        if let Some((path, variant, seed)) = found.iter().find(|run| !manifest.is_planned(run)) {
            return Err(ManifestError::Unplanned {
                dir: dir.clone(),
                record: format!("{path} --variant {variant} seed {seed}"),
            });
        }
        let mismatch = |what| ManifestError::Mismatch {
            dir: dir.clone(),
            first: first_dir.clone(),
            what,
        };
        let (k, n) = manifest.shard_or_whole();
        let differs = [
            (manifest.paths != first.paths, "the scenario paths"),
            (
                (manifest.seeds, manifest.seed) != (first.seeds, first.seed),
                "the seed selection",
            ),
            (manifest.variant != first.variant, "the variant"),
            (manifest.backend != first.backend, "the backend"),
            (n != first.shard_or_whole().1, "the number of shards"),
        ];
        if let Some((_, what)) = differs.into_iter().find(|(differs, _)| *differs) {
            return Err(mismatch(what));
        }
        let slot = &mut holders[(k - 1) as usize];
        if let Some(other) = slot {
            return Err(ManifestError::DuplicateShard {
                dir: dir.clone(),
                other: (*other).clone(),
                k,
                n,
            });
        }
        *slot = Some(dir);
    }
    let missing: Vec<u64> = (1..)
        .zip(&holders)
        .filter(|(_, holder)| holder.is_none())
        .map(|(k, _)| k)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ManifestError::MissingShards {
            missing,
            n: first.shard_or_whole().1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(k: u64, n: u64, written: Option<usize>) -> Manifest {
        Manifest {
            paths: vec!["scenarios".into()],
            seeds: Some(20),
            seed: None,
            shard: Some((k, n)),
            variant: None,
            backend: Backend::Sim,
            runs_planned: 10,
            runs_written: written,
            planned: Manifest::plan_list(runs(k)),
        }
    }

    /// Shard `k`'s ten runs: seeds `10 (k - 1) ..`.
    fn runs(k: u64) -> Vec<RunId> {
        (10 * (k - 1)..10 * k)
            .map(|seed| ("scenarios/clean.toml".to_owned(), "hardened".to_owned(), seed))
            .collect()
    }

    fn dirs(manifests: Vec<Manifest>) -> Vec<(PathBuf, Manifest, Vec<RunId>)> {
        manifests
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let found = runs(m.shard.map_or(1, |(k, _)| k));
                (PathBuf::from(format!("shard-{i}")), m, found)
            })
            .collect()
    }

    #[test]
    fn every_shard_once_is_whole() {
        assert_eq!(
            check_whole(&dirs(vec![shard(2, 2, Some(10)), shard(1, 2, Some(10))])),
            Ok(())
        );
    }

    #[test]
    fn a_missing_shard_is_named() {
        let error = check_whole(&dirs(vec![shard(1, 3, Some(10)), shard(3, 3, Some(10))])).unwrap_err();
        assert_eq!(error, ManifestError::MissingShards { missing: vec![2], n: 3 });
    }

    #[test]
    fn an_unfinished_a_stale_a_foreign_and_a_repeated_shard_are_refused() {
        let unfinished = check_whole(&dirs(vec![shard(1, 1, None)])).unwrap_err();
        assert!(matches!(unfinished, ManifestError::Unfinished { .. }));
        let stale = check_whole(&dirs(vec![shard(1, 1, Some(9))])).unwrap_err();
        assert!(matches!(
            stale,
            ManifestError::RecordCount {
                found: 10,
                written: 9,
                ..
            }
        ));
        // A run that wrote fewer than it planned, its count edited to match.
        let mut short = dirs(vec![shard(1, 1, Some(9))]);
        short[0].2.pop();
        let short = check_whole(&short).unwrap_err();
        assert!(matches!(
            short,
            ManifestError::RecordCount {
                planned: 10,
                written: 9,
                ..
            }
        ));
        let mut other = shard(2, 2, Some(10));
        other.variant = Some("michael2003".into());
        let foreign = check_whole(&dirs(vec![shard(1, 2, Some(10)), other])).unwrap_err();
        assert!(matches!(
            foreign,
            ManifestError::Mismatch {
                what: "the variant",
                ..
            }
        ));
        let repeated = check_whole(&dirs(vec![shard(1, 2, Some(10)), shard(1, 2, Some(10))])).unwrap_err();
        assert!(matches!(repeated, ManifestError::DuplicateShard { k: 1, n: 2, .. }));
    }

    #[test]
    fn a_record_from_another_shard_is_refused_by_name() {
        let mut swapped = dirs(vec![shard(1, 2, Some(10)), shard(2, 2, Some(10))]);
        swapped[0].2[3] = swapped[1].2[0].clone();
        let error = check_whole(&swapped).unwrap_err();
        assert_eq!(
            error,
            ManifestError::Unplanned {
                dir: PathBuf::from("shard-0"),
                record: "scenarios/clean.toml --variant hardened seed 10".into()
            }
        );
        let mut other_variant = dirs(vec![shard(1, 1, Some(10))]);
        other_variant[0].2[0].1 = "michael2003".into();
        assert!(matches!(
            check_whole(&other_variant),
            Err(ManifestError::Unplanned { .. })
        ));
    }
}
