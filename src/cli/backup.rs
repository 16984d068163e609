//! `rota --backup PATH` and `rota --restore PATH` (with `--data DIR`): a
//! hub's data dir backed up while it runs or not, and a backup restored
//! after every file is checked (rota-hub's `backup` does the work).

use super::{Cli, exit};
use crate::backup;
use std::path::Path;

pub fn backup(cli: &Cli, to: &Path) -> i32 {
    let data = match cli.data_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
    };
    match backup::backup(&data, to) {
        Ok(m) => {
            let bytes: u64 = m.files.iter().map(|f| f.bytes).sum();
            let rosters: Vec<String> = m
                .files
                .iter()
                .flat_map(|f| f.rosters.iter().map(|(r, seq)| format!("{r} at seq {seq}")))
                .collect();
            crate::outln!(
                "Backed up {} ({} files, {} bytes) into {}: {}.",
                data.display(),
                m.files.len(),
                bytes,
                to.display(),
                if rosters.is_empty() {
                    "no roster yet".to_string()
                } else {
                    rosters.join(", ")
                }
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("rota: --backup: {e}");
            exit::LOCAL
        }
    }
}

pub fn restore(cli: &Cli, from: &Path) -> i32 {
    let data = match cli.data_dir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rota: {e}");
            return exit::USAGE;
        }
    };
    match backup::restore(from, &data) {
        Ok(r) => {
            let rosters: usize = r.manifest.files.iter().map(|f| f.rosters.len()).sum();
            crate::outln!(
                "Restored {} ({} files, {rosters} rosters, each checked) into {}.{}",
                from.display(),
                r.manifest.files.len(),
                data.display(),
                r.kept
                    .map(|k| format!(" What was there is kept in {}.", k.display()))
                    .unwrap_or_default()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("rota: --restore: {e}");
            exit::LOCAL
        }
    }
}
