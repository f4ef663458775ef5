//! Helpers the command-line tests share: run `mcsim` as a user would, in a
//! fresh directory of its own, with scenario files copied from the suite.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The suite's scenario directory.
pub fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios")
}

/// A fresh, empty directory `mcsim-<test>-<name>-<pid>` under the temp dir.
pub fn fresh_dir(test: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsim-{test}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copies `files` (paths below the suite's directory) under `dir/scenarios/`.
pub fn copy_scenarios(dir: &Path, files: &[&str]) {
    for file in files {
        let to = dir.join("scenarios").join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(suite_dir().join(file), to).unwrap();
    }
}

/// Runs the built `mcsim` with `args` in `dir`.
pub fn mcsim(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mcsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("mcsim runs")
}

/// What a command printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
