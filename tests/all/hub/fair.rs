//! Fairness: what one connection does never makes another wait long
//! (issue 25). Asserted as orders and counts, never as times; the times are
//! measured by `rota-load --scenario fairness` (docs/performance.md).

use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A connection asking for history pages as fast as the hub answers, always
/// with the most reads waiting a connection may have; counts its answers.
async fn flood_history(
    url: String,
    n: usize,
    answered: Arc<AtomicUsize>,
    tick: tokio::sync::mpsc::UnboundedSender<()>,
    stop: Arc<AtomicBool>,
) {
    let (mut c, _) = Client::join(
        &url,
        &format!("reader{n}"),
        &format!("c-r{n}"),
        "default",
        0,
    )
    .await;
    let read = |req: u64| ClientMsg::History {
        req: Some(req),
        query: HistoryQuery {
            limit: Some(rota::protocol::MAX_HISTORY_PAGE),
            ..Default::default()
        },
    };
    for req in 0..4 {
        c.send(&read(req)).await;
    }
    let mut req = 4;
    while !stop.load(Ordering::Relaxed) {
        match c.answer().await {
            ServerMsg::History { .. } => {}
            other => panic!("a flooding reader got {other:?}"),
        }
        answered.fetch_add(1, Ordering::Relaxed);
        let _ = tick.send(());
        c.send(&read(req)).await;
        req += 1;
    }
}

/// Issue 25, hole 6: reads are served fairly per connection. With 20
/// connections each keeping 4 history reads waiting, another's
/// `list_rosters`, sent before its hello, is answered after at most a few of
/// theirs (those being read when it came), not after the whole queue ahead
/// of it; and it then says hello in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_is_answered_before_the_queues_of_connections_flooding_reads() {
    let dir = tempfile::tempdir().unwrap();
    let hub = hub_with_staff(dir.path(), 20).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin2", "default", 1).await;
    for i in 0..300u64 {
        let day = format!("2026-12-{:02}", 1 + i % 28);
        let code = if (i / 28).is_multiple_of(2) { "D" } else { "N" };
        let staff = format!("s{}", 1 + i % 20);
        ack_seq(
            &admin
                .edit(10 + i, vec![set(&staff, &day, Some(code), 0)])
                .await,
        );
    }
    let answered = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (tick, mut ticks) = tokio::sync::mpsc::unbounded_channel();
    let floods: Vec<_> = (0..20)
        .map(|n| {
            let flood = flood_history(hub.url(), n, answered.clone(), tick.clone(), stop.clone());
            tokio::spawn(flood)
        })
        .collect();
    // In full flow: every flooder has sent its four reads by then.
    let warm = async {
        for _ in 0..20 {
            ticks.recv().await;
        }
    };
    tokio::time::timeout(WAIT * 3, warm)
        .await
        .expect("the flood gets going");

    let mut honest = Client::raw(&hub.url()).await;
    honest.send(&ClientMsg::ListRosters { req: Some(1) }).await;
    let before = answered.load(Ordering::Relaxed);
    let answer = honest.answer().await;
    let between = answered.load(Ordering::Relaxed) - before;
    assert!(
        matches!(answer, ServerMsg::Rosters { req: Some(1), .. }),
        "{answer:?}"
    );
    assert!(
        between <= 12,
        "{between} of the flooders' reads were answered while one list_rosters waited"
    );
    honest
        .send(&ClientMsg::Hello {
            protocol: rota::protocol::PROTOCOL_VERSION.into(),
            user: "ann".into(),
            client_id: "c-ann".into(),
            token: None,
            roster: "default".into(),
            last_seq: 0,
        })
        .await;
    let welcome = honest.answer().await;
    assert!(matches!(welcome, ServerMsg::Welcome { .. }), "{welcome:?}");
    stop.store(true, Ordering::Relaxed);
    for f in floods {
        f.abort();
    }
    hub.stop().await.unwrap();
}
