use clap::Parser;
use rota::cli::{self, Cli};

/// jemalloc rather than the system's malloc: a hub's memory comes and goes
/// with its clients (edits held in parts, frames read and written), and
/// glibc's arenas kept much of it after the clients had gone; jemalloc's
/// background threads give freed pages back to the system within seconds.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() {
    let started = std::time::Instant::now();
    let cli = Cli::parse();
    if let Err(m) = cli::flags_fit(&cli) {
        eprintln!("rota: {m}");
        std::process::exit(cli::exit::USAGE);
    }
    let editor = !(cli.serve
        || cli.sync
        || cli.check
        || cli.publish
        || cli.diff_published
        || cli.mine
        || cli.fill
        || cli.apply.is_some()
        || cli.export.is_some());
    if !editor {
        // The editor logs to a file in its data dir, never onto its screen.
        cli::init_logging(
            cli.log_level.as_deref(),
            if cli.serve { "info" } else { "warn" },
        );
    }
    // Scripts on the demo: its roster, made first when it is not yet.
    if cli.demo && !editor {
        let seeded = match cli::sync_config(&cli) {
            Ok(config) => cli::seed_demo(&config).await,
            Err(e) => Err(e),
        };
        // Not made now (its hub did not answer): the script goes on, and
        // says for itself what it can do without the hub (a --check reads
        // the local copy, --apply --queue queues).
        if let Err(e) = seeded {
            eprintln!("rota: the demo roster was not made or checked now: {e}");
        }
    }
    let code = if let Some(to) = &cli.backup {
        cli::backup::backup(&cli, to)
    } else if let Some(from) = &cli.restore {
        cli::backup::restore(&cli, from)
    } else if cli.migrate {
        cli::migrate::migrate(&cli)
    } else if cli.serve {
        cli::serve::serve(&cli).await
    } else if cli.sync {
        cli::sync::sync(&cli).await
    } else if let Some(file) = &cli.apply {
        cli::apply::apply(&cli, file).await
    } else if cli.check {
        cli::check::check(&cli).await
    } else if cli.publish {
        cli::publish::publish(&cli).await
    } else if cli.diff_published {
        cli::publish::diff_published(&cli).await
    } else if cli.mine {
        cli::mine::mine(&cli).await
    } else if cli.fill {
        cli::fill::fill(&cli).await
    } else if let Some(format) = &cli.export {
        cli::export::export(&cli, format).await
    } else {
        cli::edit::run(&cli, started).await
    };
    std::process::exit(code);
}
