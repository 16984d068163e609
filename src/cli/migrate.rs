//! `rota --migrate --from DIR --to postgres://…`: a SQLite hub's rosters
//! moved into a PostgreSQL database (rota-hub's `store::copy` does the
//! work), all or nothing, each roster checked, the files left as they were.

use super::{Cli, exit};
use std::path::PathBuf;

pub fn migrate(cli: &Cli) -> i32 {
    let (Some(from), Some(to)) = (&cli.from, &cli.to) else {
        eprintln!(
            "rota: --migrate needs --from DIR (a hub's data dir) and --to \
             postgres://USER@HOST:PORT/DB (an empty database)"
        );
        return exit::USAGE;
    };
    let dir = PathBuf::from(from);
    let files = crate::server::writers::store_files(&dir);
    if files.is_empty() {
        eprintln!(
            "rota: --from {}: no hub store there (hub.sqlite3): give the data dir of the hub to move",
            dir.display()
        );
        return exit::USAGE;
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        eprintln!("rota: --to `{to}`: expected postgres://USER@HOST:PORT/DB");
        return exit::USAGE;
    }
    // No hub may write the files while they are read: hold the dir's lock.
    if let Some(h) = rota_db::lock::holder(&dir) {
        eprintln!(
            "rota: --from {}: a hub is running on it (pid {}, {}): stop it first; nothing was written",
            dir.display(),
            h.pid,
            h.addr
        );
        return 1;
    }
    let _lock = match rota_db::lock::DataDirLock::acquire(&dir, "migrate") {
        Ok(lock) => lock,
        Err(e) => {
            eprintln!("rota: --from {}: {e:?}; nothing was written", dir.display());
            return exit::USAGE;
        }
    };
    let place = crate::store::Place::Database(to.clone());
    match crate::store::copy::to_database(&files, to) {
        Ok(moved) => {
            for m in &moved {
                println!(
                    "{}: seq {}, {} staff, {} cells, {} batches, {} answers, from {}; \
                     state sha256 {} the same in the database",
                    m.roster,
                    m.seq,
                    m.staff,
                    m.cells,
                    m.batches,
                    m.answers,
                    m.file.display(),
                    &m.digest[..16]
                );
            }
            println!(
                "moved {} roster(s) from {} into {place}; the files are left as they were \
                 (serve with --database to use it)",
                moved.len(),
                dir.display()
            );
            exit::OK
        }
        Err(e) => {
            eprintln!("rota: --migrate: {e}; nothing was written to {place}");
            1
        }
    }
}
