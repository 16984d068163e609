//! `rota --backup PATH` and `rota --restore PATH` (with `--data DIR`): a
//! hub's data dir backed up while it runs or not, and a backup restored
//! after every file is checked (rota-hub's `backup` does the work).

use super::{Cli, exit};
use crate::backup;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `--serve --backup-dir DIR --backup-every D`: a backup into
/// `DIR/rota-backup-TIME` every `every` (the first one `every` after the
/// start), the oldest beyond `keep` removed. A backup that fails is logged
/// and tried again next time; the hub goes on either way.
pub async fn every(data: PathBuf, dir: PathBuf, every: Duration, keep: usize) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let (data, dir) = (data.clone(), dir.clone());
        let done = tokio::task::spawn_blocking(move || {
            let name = format!(
                "rota-backup-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
            );
            let to = dir.join(name);
            let made = backup::backup(&data, &to);
            (to, made, prune(&dir, keep))
        })
        .await;
        match done {
            Ok((to, Ok(m), pruned)) => {
                tracing::info!(
                    "backup into {} ({} files){}",
                    to.display(),
                    m.files.len(),
                    pruned.map_or_else(|e| format!("; pruning: {e}"), |_| String::new())
                );
            }
            Ok((to, Err(e), _)) => tracing::warn!("backup into {} failed: {e}", to.display()),
            Err(e) => tracing::warn!("backup task: {e}"),
        }
    }
}

/// Removes the oldest `rota-backup-*` directories in `dir` beyond `keep`
/// (their names sort by time).
fn prune(dir: &Path, keep: usize) -> Result<(), String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("rota-backup-"))
        })
        .collect();
    found.sort();
    let extra = found.len().saturating_sub(keep);
    for old in &found[..extra] {
        std::fs::remove_dir_all(old).map_err(|e| format!("{}: {e}", old.display()))?;
    }
    Ok(())
}

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
            let said = if e.contains("nothing replaced") {
                e
            } else {
                format!("{e}; nothing replaced")
            };
            eprintln!("rota: --restore: {said}");
            exit::LOCAL
        }
    }
}
