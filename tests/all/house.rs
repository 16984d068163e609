//! The house: the crates are the layers, and the compiler keeps them apart
//! only if the graph says so. This reads the workspace's graph (`cargo
//! metadata`) and fails on an import the wrong way, on a crate added
//! without a place in the table, and on a crate whose top doc does not say
//! what it is.

use std::collections::BTreeMap;

/// Each rota crate and the rota crates it may depend on (normal
/// dependencies; dev-dependencies in `DEV`). A crate may use only crates
/// below it: core and tls at the bottom, the binary at the top.
const MAY_USE: &[(&str, &[&str])] = &[
    ("rota-core", &[]),
    ("rota-tls", &[]),
    ("rota-testpg", &[]),
    ("rota-db", &["rota-core"]),
    ("rota-script", &["rota-core"]),
    ("rota-fill", &["rota-core"]),
    (
        "rota-hub",
        &["rota-core", "rota-db", "rota-tls", "rota-script"],
    ),
    ("rota-client", &["rota-core", "rota-db", "rota-tls"]),
    (
        "rota-editor",
        &["rota-core", "rota-client", "rota-script", "rota-fill"],
    ),
    (
        "rota",
        &[
            "rota-core",
            "rota-db",
            "rota-tls",
            "rota-script",
            "rota-fill",
            "rota-hub",
            "rota-client",
            "rota-editor",
        ],
    ),
];

/// Test-only edges: the hub's simulation drives the client's sync core
/// against the real writer; the hub's store suite and the integration
/// tests run against a real PostgreSQL server (rota-testpg).
const DEV: &[(&str, &str)] = &[
    ("rota-hub", "rota-client"),
    ("rota-hub", "rota-testpg"),
    ("rota", "rota-testpg"),
];

fn metadata() -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON")
}

#[test]
fn no_crate_uses_one_above_it() {
    let meta = metadata();
    let allowed: BTreeMap<&str, &[&str]> = MAY_USE.iter().copied().collect();
    let packages = meta["packages"].as_array().expect("packages");
    let mut seen = Vec::new();
    for p in packages {
        let name = p["name"].as_str().unwrap_or_default();
        seen.push(name.to_string());
        let Some(may) = allowed.get(name) else {
            panic!("crate {name} has no place in tests/house.rs's MAY_USE: say what it may use");
        };
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default();
            if !dep.starts_with("rota") {
                continue;
            }
            let dev = d["kind"].as_str() == Some("dev");
            let ok = may.contains(&dep) || (dev && DEV.contains(&(name, dep)));
            assert!(
                ok,
                "{name} depends on {dep}{}: a wrong-way import (it may use {may:?})",
                if dev { " (dev)" } else { "" }
            );
        }
    }
    for (name, _) in MAY_USE {
        assert!(
            seen.iter().any(|s| s == name),
            "{name} is in MAY_USE but not in the workspace"
        );
    }
}

/// Each crate's top doc names it and says what it may not reach into.
#[test]
fn each_crate_says_what_it_owns() {
    let meta = metadata();
    for p in meta["packages"].as_array().expect("packages") {
        let name = p["name"].as_str().unwrap_or_default();
        if name == "rota" {
            continue;
        }
        let manifest = std::path::Path::new(p["manifest_path"].as_str().expect("a manifest"));
        let lib = manifest.with_file_name("src").join("lib.rs");
        let text = std::fs::read_to_string(&lib).expect("lib.rs");
        let doc: Vec<&str> = text.lines().take_while(|l| l.starts_with("//!")).collect();
        assert!(
            doc.first().is_some_and(|l| l.contains(name)),
            "{}: its top doc starts with its name",
            lib.display()
        );
        let doc = doc.join(" ");
        assert!(
            doc.contains("never") || doc.contains("no other rota crate") || doc.contains("only"),
            "{}: its top doc says what it must not reach into",
            lib.display()
        );
    }
}

/// A roster's own tables (its records and cells) are defined once, in
/// rota-db, for the hub's store and the client's file alike.
#[test]
fn a_rosters_tables_are_defined_once() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut defined = Vec::new();
    let mut stack = vec![root.join("crates"), root.join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("a dir").flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                // (A unit test may write an old file's tables by hand.)
                let text = text.split("#[cfg(test)]").next().unwrap_or_default();
                for table in ["entities", "cells"] {
                    for pat in [
                        format!("CREATE TABLE {table}("),
                        format!("CREATE TABLE IF NOT EXISTS {table}("),
                        format!("CREATE TABLE {table} ("),
                    ] {
                        if text.contains(&pat) {
                            defined.push((table, path.clone()));
                        }
                    }
                }
            }
        }
    }
    // Once for SQLite (the hub's files and the editor's local file share
    // it), once for PostgreSQL (the hub's database).
    for table in ["entities", "cells"] {
        let mut at: Vec<_> = defined
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, p)| p.clone())
            .collect();
        at.sort();
        let want = [
            root.join("crates/db/src/roster_db.rs"),
            root.join("crates/hub/src/store/pg/schema.rs"),
        ];
        assert_eq!(at, want, "table {table}");
    }
}

/// Inside the editor, the rooms import one way too: no module reaches a
/// module that reaches it back (the key map does not read the state that
/// holds it, the theme does not read the grid that draws with it). Read
/// from the sources: `super::x` and `crate::x` naming a sibling module.
#[test]
fn the_editors_rooms_import_one_way() {
    use std::collections::{BTreeMap, BTreeSet};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/editor/src");
    let mut modules: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
    for e in std::fs::read_dir(&src)
        .expect("the editor's sources")
        .flatten()
    {
        let path = e.path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        if name == "lib" {
            continue;
        }
        let files = if path.is_dir() {
            std::fs::read_dir(&path)
                .expect("a module dir")
                .flatten()
                .map(|f| f.path())
                .collect()
        } else {
            vec![path]
        };
        modules.entry(name).or_default().extend(files);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, files) in &modules {
        for f in files {
            let text = std::fs::read_to_string(f).expect("a source file");
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            // In a module's own dir, `super::` is the module itself.
            let nested = f.parent() != Some(src.as_path());
            let prefixes: &[&str] = if nested {
                &["crate::"]
            } else {
                &["crate::", "super::"]
            };
            for p in prefixes {
                for (i, _) in text.match_indices(p) {
                    let rest = &text[i + p.len()..];
                    let word: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if names.contains(&word) && word != *name {
                        edges.entry(name.clone()).or_default().insert(word);
                    }
                }
            }
        }
    }
    // A depth-first search for a way back.
    fn reaches(
        from: &str,
        to: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        edges
            .get(from)
            .into_iter()
            .flatten()
            .any(|n| n == to || (seen.insert(n.clone()) && reaches(n, to, edges, seen)))
    }
    for (a, out) in &edges {
        for b in out {
            assert!(
                !reaches(b, a, &edges, &mut BTreeSet::new()),
                "the editor's {a} uses {b}, and {b} reaches {a} back: {edges:?}"
            );
        }
    }
    assert!(edges.len() > 5, "the graph was read: {edges:?}");
}
