//! The repository's shape, checked: the harness's top-level modules import
//! each other without a cycle (the pipeline's stages only flow forward),
//! ARCHITECTURE.md names every source file, and no source file grows past
//! 600 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, relative to the repository root.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path.strip_prefix(root()).unwrap().to_owned());
            }
        }
    }
    files.sort();
    files
}

/// The harness's top-level module a file of `sim/src` belongs to (`None`
/// for the binary: `main.rs` and `cli/`).
fn module_of(file: &Path) -> Option<String> {
    let inner = file.strip_prefix("sim/src").ok()?;
    let first = inner.components().next()?.as_os_str().to_string_lossy().into_owned();
    let module = first.trim_end_matches(".rs").to_owned();
    (!matches!(module.as_str(), "main" | "cli" | "lib")).then_some(module)
}

/// The top-level modules a file refers to as `crate::<module>`.
fn uses(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (index, _) in text.match_indices("crate::") {
        let rest = &text[index + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if modules.contains(&name) {
            found.insert(name);
        }
        if rest.starts_with('{') {
            let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
            for item in group.split(',') {
                let name = item.trim().split("::").next().unwrap_or_default().trim();
                if modules.contains(name) {
                    found.insert(name.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn the_harness_modules_import_each_other_without_a_cycle() {
    let files = rust_files(&root().join("sim/src"));
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(module) = module_of(file) else { continue };
        // Code only: a doc comment naming a module is not an import.
        let text: String = std::fs::read_to_string(root().join(file))
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let edges = graph.entry(module.clone()).or_default();
        edges.extend(uses(&text, &modules).into_iter().filter(|m| *m != module));
    }
    // Depth-first search for a back edge; the path is the cycle.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(cycle) = visit(module, &graph, &mut Vec::new(), &mut done) {
            panic!(
                "the harness modules import each other in a cycle: {}",
                cycle.join(" -> ")
            );
        }
    }
    assert!(graph.len() > 20, "{graph:?}");
}

#[test]
fn architecture_md_names_every_source_file() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let missing: Vec<String> = ["src", "sim/src"]
        .iter()
        .flat_map(|dir| rust_files(&root().join(dir)))
        .map(|f| f.display().to_string())
        .filter(|f| !map.contains(f.as_str()))
        .collect();
    assert!(missing.is_empty(), "ARCHITECTURE.md does not name {missing:#?}");
}

#[test]
fn no_source_file_is_over_600_lines() {
    let long: Vec<String> = ["src", "sim/src", "tests", "sim/tests"]
        .iter()
        .flat_map(|dir| rust_files(&root().join(dir)))
        .filter_map(|f| {
            let lines = std::fs::read_to_string(root().join(&f)).unwrap().lines().count();
            (lines > 600).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "split by job: {long:?}");
}
