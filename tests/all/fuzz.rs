//! Input never makes the hub panic: thousands of mutated frames (seeded, so a
//! failure replays), then the hub must still serve and hold a sound roster.
//! Its own test binary, so the panic hook sees only the hub's panics.

use crate::common;

use common::*;
use futures_util::SinkExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio_tungstenite::tungstenite::Message;

/// xorshift64*: a tiny deterministic generator, enough for fuzzing.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const CORPUS: &[&str] = &[
    r#"{"type":"hello","protocol":"1.0","user":"fz","client_id":"c-fz","roster":"default","last_seq":0}"#,
    r#"{"type":"edit","op_id":1,"ops":[{"op":"set_cell","staff":"s1","date":"2026-12-01","code":"D","base":0}]}"#,
    r#"{"type":"edit","op_id":2,"ops":[{"op":"add_staff","id":"x1","name":"X","group":"G","order":3}]}"#,
    r#"{"type":"edit","op_id":3,"ops":[{"op":"put_code","code":{"code":"E","hours":8,"start":"07:00","end":"15:00"}}]}"#,
    r#"{"type":"edit","op_id":4,"ops":[{"op":"put_rule","rule":{"id":"r","kind":"limit","measure":"hours","max":40,"period_days":7}}]}"#,
    r#"{"type":"edit","op_id":5,"ops":[{"op":"remove_code","code":"N"},{"op":"update_staff","id":"s2","name":"Y","base":1}]}"#,
    r#"{"type":"presence","cursor":{"staff":"s1","date":"2026-12-01"}}"#,
    r#"{"type":"history","staff":"s1","from":"2026-12-01","to":"2026-12-31","before":"9:0","limit":3}"#,
    r#"{"type":"list_rosters","req":4}"#,
    r#"{"type":"edit","op_id":6,"part":0,"more":true,"note":"n","ops":[{"op":"set_cell","staff":"s1","date":"2026-12-02","code":"夜"}]}"#,
    r#"{"type":"edit","op_id":6,"part":1,"ops":[{"op":"set_cell","staff":"s1","date":"2026-12-03","code":"○"}]}"#,
    r#"{"type":"edit","op_id":7,"ops":[{"op":"put_rule","rule":{"id":"m","kind":"staffing","code":"D","min":2,"weekdays":["Mon"],"group":"G"}},{"op":"set_conflict_mode","mode":"strict"}]}"#,
    r#"{"type":"history","req":5,"staff":"s1","date":"2026-12-01","limit":500}"#,
];

const SPLICES: &[&str] = &[
    "null",
    "-1",
    "1e308",
    "18446744073709551616",
    "\"\"",
    "[]",
    "{}",
    "\"2026-02-30\"",
    "\"\\u0000\"",
    "\"ZZZZZ\"",
    "\"s1/x\"",
    "true",
    "\"9999-99-99\"",
    "\"OFF\"",
    "0",
];

fn mutate(rng: &mut Rng) -> Vec<u8> {
    let mut b = CORPUS[rng.below(CORPUS.len())].as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            break;
        }
        let at = rng.below(b.len());
        match rng.below(5) {
            0 => b[at] = rng.next() as u8,
            1 => b.truncate(at),
            2 => {
                let s = SPLICES[rng.below(SPLICES.len())].as_bytes();
                // Replace the value after the next ':' with a splice.
                if let Some(colon) = b[at..].iter().position(|&c| c == b':') {
                    let start = at + colon + 1;
                    let end = b[start..]
                        .iter()
                        .position(|&c| c == b',' || c == b'}')
                        .map_or(b.len(), |e| start + e);
                    b.splice(start..end, s.iter().copied());
                }
            }
            3 => {
                let dup = b[at..].to_vec();
                b.extend_from_slice(&dup);
            }
            _ => b.insert(at, b"{}[]\",:\\"[rng.below(8)]),
        }
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_mutated_frames_never_panic_the_hub() {
    let panics = Arc::new(AtomicUsize::new(0));
    let counter = panics.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));

    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    let (mut admin, _) = Client::join(&hub.url(), "admin", "c-admin", "default", 0).await;
    ack_seq(&admin.edit(1, setup_ops(3)).await);

    // An honest editor edits all the while; its acks are timed (reported).
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let honest = {
        let url = hub.url();
        let done = done.clone();
        tokio::spawn(async move {
            let (mut c, _) = Client::join(&url, "honest", "c-honest", "default", 0).await;
            let mut times = Vec::new();
            let mut op = 0u64;
            while !done.load(Ordering::SeqCst) || op < 10 {
                op += 1;
                let day = format!("2027-02-{:02}", op % 28 + 1);
                let t = std::time::Instant::now();
                let ack = c.edit(op, vec![set("s2", &day, Some("N"), 0)]).await;
                assert!(ack_seq(&ack) > 0, "{ack:?}");
                times.push(t.elapsed());
            }
            times
        })
    };
    // ROTA_FUZZ_HUB_FRAMES sets how many (45 a connection); a million by hand.
    let frames: usize = std::env::var("ROTA_FUZZ_HUB_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_700);
    let started = std::time::Instant::now();
    let mut rng = Rng(0x005E_ED0F_0A7A);
    let mut sent = 0;
    let mut handled = 0;
    let conns = frames.div_ceil(45);
    for _conn in 0..conns {
        let mut c = Client::raw(&hub.url()).await;
        // Half the connections join first, so post-handshake paths are hit.
        if rng.below(2) == 0 {
            c.send_text(CORPUS[0]).await;
        }
        // Under the 50-errors-in-10-s limit, so no connection is cut off.
        for _ in 0..45 {
            let frame = mutate(&mut rng);
            let msg = match String::from_utf8(frame) {
                Ok(t) => Message::Text(t.into()),
                Err(e) => Message::Binary(e.into_bytes().into()),
            };
            if c.ws.send(msg).await.is_err() {
                break; // closed for too many errors: fine
            }
            sent += 1;
        }
        // Frames are handled in order: once this is answered (or the hub has
        // closed the connection), every frame above has been handled.
        let _ =
            c.ws.send(Message::Text(r#"{"type":"list_rosters"}"#.into()))
                .await;
        let mut answered = false;
        for _ in 0..1000 {
            match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut c.ws))
                .await
                .expect("hub answers")
            {
                Some(Ok(Message::Text(t))) if t.contains("\"type\":\"rosters\"") => {
                    answered = true;
                    break;
                }
                Some(Ok(_)) => continue,
                _ => break,
            }
        }
        handled += usize::from(answered);
    }
    done.store(true, Ordering::SeqCst);
    let mut times = honest
        .await
        .expect("the honest editor was served throughout");
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize];
    eprintln!(
        "{sent} mutated frames over {conns} connections in {:.1} s ({handled} answered to the end); \
         honest editor beside them: {} edits, ack p50 {:?}, p99 {:?}",
        started.elapsed().as_secs_f64(),
        times.len(),
        at(0.5),
        at(0.99)
    );
    assert!(
        handled >= conns / 6,
        "only {handled} of {conns} connections were answered to the end"
    );
    assert!(sent >= frames * 9 / 10, "only {sent} frames sent");

    // The hub still serves, and its roster still loads and decodes whole.
    let (status, _) = hub.http_get("/health").await;
    assert_eq!(status, 200);
    let (mut c, _, _) = join_snapshot(&hub.url(), "ok", "c-ok").await;
    let seq = ack_seq(
        &c.edit(1, vec![set("s3", "2027-01-01", Some("OFF"), 0)])
            .await,
    );
    assert!(seq > 1);
    assert!(metric(hub.addr, "rota_protocol_errors_total").await >= 500.0);
    hub.stop().await.unwrap();
    assert_eq!(panics.load(Ordering::SeqCst), 0, "the hub panicked");
}

/// The decoder alone: mutated frames (50,000 here; `ROTA_FUZZ_FRAMES`
/// sets more, a million by hand) never panic it, and whatever it accepts
/// encodes back to a frame that decodes to the same message.
#[test]
fn the_decoder_takes_any_frame_and_what_it_accepts_round_trips() {
    let n: usize = std::env::var("ROTA_FUZZ_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let mut rng = Rng(0xDEC0_DE5E_ED00_0001);
    let (mut accepted, mut refused) = (0usize, 0usize);
    let started = std::time::Instant::now();
    for _ in 0..n {
        let frame = mutate(&mut rng);
        let Ok(text) = String::from_utf8(frame) else {
            refused += 1;
            continue;
        };
        match rota::protocol::decode_client(&text) {
            Ok(msg) => {
                accepted += 1;
                let again = rota::protocol::encode_client(&msg);
                let back = rota::protocol::decode_client(&again)
                    .unwrap_or_else(|e| panic!("{text} -> {again}: {e:?}"));
                assert_eq!(back, msg, "{text}");
            }
            Err(_) => refused += 1,
        }
    }
    eprintln!(
        "{n} mutated frames in {:.1} s: {accepted} accepted, {refused} refused",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(accepted + refused, n);
    // Both paths are exercised: some mutations stay valid messages.
    assert!(
        accepted > n / 100 && refused > n / 100,
        "{accepted} / {refused}"
    );
}
