//! Accounts and roles on a real hub on 127.0.0.1: tokens checked before the
//! upgrade, every kind of message authorised against the connection's
//! account, client ids owned, the change log naming the account, and
//! revocation (by another process, as `rota --serve --revoke-token` does)
//! closing connections at once.

use crate::common;

use common::*;
use rota::accounts::{AccountsFile, Grant, Role};
use rota::domain::{ConflictMode, Op, ShiftCode};
use rota::protocol::{ClientMsg, HistoryQuery, ServerMsg, close, codes};

struct Accounts {
    owner: String,
    admin: String,
    editor: String,
    viewer: String,
    /// An editor of another roster only.
    other: String,
    file: AccountsFile,
}

fn role(roster: &str, role: Role) -> Grant {
    Grant::Role {
        roster: roster.into(),
        role,
    }
}

/// Users of roster `ward`: one per role, plus an editor of `ward-b` only.
fn accounts(dir: &std::path::Path) -> Accounts {
    let mut file = AccountsFile::open_in(dir).unwrap();
    Accounts {
        owner: file.add_user("olga", Grant::Owner).unwrap(),
        admin: file.add_user("ada", role("ward", Role::Admin)).unwrap(),
        editor: file.add_user("ed", role("ward", Role::Editor)).unwrap(),
        viewer: file.add_user("vi", role("ward", Role::Viewer)).unwrap(),
        other: file.add_user("otto", role("ward-b", Role::Editor)).unwrap(),
        file,
    }
}

/// A hub with [`accounts`], and roster `ward` set up by its owner.
async fn hub_with_accounts(dir: &std::path::Path) -> (Hub, Accounts) {
    let acc = accounts(dir);
    let hub = Hub::start(dir).await;
    let (mut c, first) = Client::hello_as(&hub.url(), &acc.owner, "olga", "c-olga", "ward").await;
    assert!(matches!(first, ServerMsg::Welcome { .. }), "{first:?}");
    let ack = c.edit(1, setup_ops(3)).await;
    assert!(matches!(ack, ServerMsg::Ack { .. }), "{ack:?}");
    let ack = c.edit(2, vec![set("s1", "2026-12-01", Some("D"), 0)]).await;
    assert!(matches!(ack, ServerMsg::Ack { .. }), "{ack:?}");
    (hub, acc)
}

fn error_code(m: &ServerMsg) -> (&str, &str, Option<u64>) {
    match m {
        ServerMsg::Error {
            code,
            message,
            op_id,
            ..
        } => (code, message, *op_id),
        other => panic!("expected an error, got {other:?}"),
    }
}

/// One edit of every kind, each alone.
fn every_write() -> Vec<(&'static str, Vec<Op>, Role)> {
    vec![
        (
            "cell",
            vec![set("s1", "2026-12-02", Some("N"), 0)],
            Role::Editor,
        ),
        (
            "clear",
            vec![set("s1", "2026-12-01", None, 0)],
            Role::Editor,
        ),
        (
            "add staff",
            vec![Op::AddStaff {
                id: "x9".into(),
                name: "New".into(),
                group: String::new(),
                order: None,
            }],
            Role::Admin,
        ),
        (
            "rename staff",
            vec![Op::UpdateStaff {
                id: "s2".into(),
                name: Some("Renamed".into()),
                group: None,
                order: None,
                base: None,
            }],
            Role::Admin,
        ),
        (
            "remove staff",
            vec![Op::RemoveStaff {
                id: "s3".into(),
                base: None,
            }],
            Role::Admin,
        ),
        (
            "put code",
            vec![Op::PutCode {
                code: ShiftCode::new("AL", 0.0, false),
                base: None,
            }],
            Role::Admin,
        ),
        (
            "remove code",
            vec![Op::RemoveCode {
                code: "N".into(),
                base: None,
            }],
            Role::Admin,
        ),
        ("put rule", vec![staffing("r1", "D", 1, None)], Role::Admin),
        (
            "conflict mode",
            vec![Op::SetConflictMode {
                mode: ConflictMode::LastWriterWins,
            }],
            Role::Admin,
        ),
        (
            "cell and staff together",
            vec![
                set("s2", "2026-12-03", Some("D"), 0),
                Op::RemoveStaff {
                    id: "s3".into(),
                    base: None,
                },
            ],
            Role::Admin,
        ),
    ]
}

/// Every write a role may not make is refused with `forbidden`, carrying
/// its op id, and changes nothing; the ones it may make go through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_make_exactly_its_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    for (who, token, has) in [
        ("vi", &acc.viewer, Role::Viewer),
        ("ed", &acc.editor, Role::Editor),
        ("ada", &acc.admin, Role::Admin),
    ] {
        for (i, (what, ops, needs)) in every_write().into_iter().enumerate() {
            // A fresh hub state for each write: a throwaway copy is costly,
            // so each allowed write is checked and the refused ones are
            // checked to change nothing.
            let (seq_before, before) = owner_view(&hub.url(), &acc.owner).await;
            let client = format!("c-{who}");
            let (mut c, w) = Client::hello_as(&hub.url(), token, who, &client, "ward").await;
            assert!(matches!(w, ServerMsg::Welcome { .. }), "{who}: {w:?}");
            let op_id = 100 + i as u64;
            let mut ops = ops;
            rebase(&mut ops, seq_before);
            let answer = c.edit(op_id, ops).await;
            if has >= needs {
                assert!(
                    matches!(answer, ServerMsg::Ack { .. } | ServerMsg::Rejected { .. }),
                    "{who} may {what}: {answer:?}"
                );
            } else {
                let (code, message, id) = error_code(&answer);
                assert_eq!(code, codes::FORBIDDEN, "{who} {what}: {message}");
                assert_eq!(id, Some(op_id), "the error names the edit");
                assert!(
                    message.contains(&format!("takes the {needs} role")),
                    "{message}"
                );
                let (seq_after, after) = owner_view(&hub.url(), &acc.owner).await;
                assert_eq!(after, before, "{who} {what}: nothing changed");
                assert_eq!(seq_after, seq_before);
            }
        }
    }
    assert!(metric(hub.addr, "rota_forbidden_total").await >= 1.0);
}

/// `ward` as its owner reads it: its seq and the whole snapshot (staff,
/// codes, rules, cells, settings), as JSON to compare.
async fn owner_view(url: &str, owner: &str) -> (u64, serde_json::Value) {
    let mut c = Client::raw_as(url, Some(owner)).await.unwrap();
    c.send(&ClientMsg::Hello {
        protocol: rota::protocol::PROTOCOL_VERSION.into(),
        user: "olga".into(),
        client_id: "c-olga".into(),
        token: None,
        roster: "ward".into(),
        // Ahead of the hub: always a snapshot.
        last_seq: u64::MAX,
        view: Default::default(),
    })
    .await;
    match c.answer().await {
        ServerMsg::Welcome {
            seq,
            snapshot: Some(snap),
            ..
        } => (seq, serde_json::to_value(&snap).unwrap()),
        other => panic!("{other:?}"),
    }
}

/// The seq of `ward` as its owner sees it.
async fn snapshot_seq(url: &str, owner: &str) -> u64 {
    let (_c, w) = Client::hello_as(url, owner, "olga", "c-olga", "ward").await;
    match w {
        ServerMsg::Welcome { seq, .. } => seq,
        other => panic!("{other:?}"),
    }
}

/// Cell writes based on `seq`, so an allowed one is not a conflict.
fn rebase(ops: &mut [Op], seq: u64) {
    for op in ops {
        if let Op::SetCell { base, .. } = op {
            *base = seq;
        }
    }
}

/// A viewer reads the roster, its history and presence, and lists it; a
/// user with no role on it can do none of these and does not see it listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_need_a_role_on_the_roster_and_nothing_leaks_to_others() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    let (mut vi, w) = Client::hello_as(&hub.url(), &acc.viewer, "vi", "c-vi", "ward").await;
    let ServerMsg::Welcome { seq, .. } = w else {
        panic!("{w:?}")
    };
    assert!(seq >= 2);
    vi.send(&ClientMsg::History {
        req: Some(7),
        query: HistoryQuery::default(),
    })
    .await;
    match vi.answer().await {
        ServerMsg::History { entries, req, .. } => {
            assert_eq!(req, Some(7));
            assert!(!entries.is_empty());
        }
        other => panic!("{other:?}"),
    }
    vi.send(&ClientMsg::ListRosters { req: Some(8) }).await;
    match vi.answer().await {
        ServerMsg::Rosters { rosters, .. } => {
            let names: Vec<&str> = rosters.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, ["ward"]);
        }
        other => panic!("{other:?}"),
    }

    // Otto edits ward-b only: ward is neither readable nor listed.
    let (mut otto, first) =
        Client::hello_as(&hub.url(), &acc.other, "otto", "c-otto", "ward").await;
    let (code, message, _) = error_code(&first);
    assert_eq!(code, codes::FORBIDDEN);
    assert!(
        message.contains("no roster `ward` you may open"),
        "{message}"
    );
    // Not joined: history and presence are refused, nothing of ward is sent.
    otto.send(&ClientMsg::History {
        req: Some(1),
        query: HistoryQuery::default(),
    })
    .await;
    assert_eq!(error_code(&otto.answer().await).0, codes::NOT_JOINED);
    let nothing = otto
        .edit(1, vec![set("s1", "2026-12-09", Some("D"), 0)])
        .await;
    assert_eq!(error_code(&nothing).0, codes::NOT_JOINED);
    otto.send(&ClientMsg::ListRosters { req: Some(2) }).await;
    match otto.answer().await {
        ServerMsg::Rosters { rosters, .. } => assert!(
            rosters.iter().all(|r| r.name != "ward"),
            "ward is not listed to otto: {rosters:?}"
        ),
        other => panic!("{other:?}"),
    }
    // A roster that does not exist reads the same as one without leave.
    let (_, first) = Client::hello_as(&hub.url(), &acc.other, "otto", "c-otto", "nowhere").await;
    let (_, message2, _) = error_code(&first);
    assert_eq!(
        message2.replace("nowhere", "ward"),
        message,
        "no telling which rosters exist"
    );
    // The owner sees every roster.
    let (mut olga, _) = Client::hello_as(&hub.url(), &acc.owner, "olga", "c-olga", "ward").await;
    olga.send(&ClientMsg::ListRosters { req: None }).await;
    match olga.answer().await {
        ServerMsg::Rosters { rosters, .. } => {
            assert!(rosters.iter().any(|r| r.name == "ward"))
        }
        other => panic!("{other:?}"),
    }
}

/// Without a token, with a mistyped one, or with a revoked one, the upgrade
/// is refused with 401 and a reason: no frame is exchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_a_bad_one_gets_401_before_the_upgrade() {
    use tokio_tungstenite::tungstenite::Error;
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut acc) = hub_with_accounts(dir.path()).await;
    let mut mistyped = acc.editor.clone();
    mistyped.pop();
    mistyped.push('x');
    let revoked = acc.file.new_token("ed").unwrap();
    let id = revoked.split('_').nth(1).unwrap().to_string();
    acc.file.revoke_token(&id).unwrap();
    // The hub sees the revocation within its watch interval; until it has,
    // the token may still be taken: wait for the refusal, bounded.
    let refused_revoked = async {
        loop {
            if let Err(Error::Http(r)) = Client::raw_as(&hub.url(), Some(&revoked)).await {
                return r;
            }
        }
    };
    let r = tokio::time::timeout(WAIT, refused_revoked)
        .await
        .expect("the revoked token is refused in time");
    assert_eq!(r.status().as_u16(), 401);
    for (what, token) in [
        ("none", None),
        ("mistyped", Some(mistyped.as_str())),
        ("not a token", Some("hello")),
        ("revoked", Some(revoked.as_str())),
    ] {
        match Client::raw_as(&hub.url(), token).await {
            Err(Error::Http(resp)) => {
                assert_eq!(resp.status().as_u16(), 401, "{what}");
                assert!(
                    resp.headers()
                        .get("www-authenticate")
                        .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer")),
                    "{what}"
                );
                let body = String::from_utf8(resp.body().clone().unwrap_or_default()).unwrap();
                // A revoked token's holder is told so (found by a new user).
                let want = match what {
                    "none" => "send a token",
                    "revoked" => "the token was revoked",
                    _ => "the token was refused",
                };
                assert!(body.contains(want), "{what}: {body}");
            }
            Ok(_) => panic!("{what}: upgraded"),
            Err(e) => panic!("{what}: {e}"),
        }
    }
    assert!(metric(hub.addr, "rota_auth_refused_total").await >= 4.0);
    // /health needs no token.
    assert_eq!(hub.http_get("/health").await.0, 200);
}

/// The change log and presence name the account, whatever name the client
/// claims in its hello.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_log_names_the_account_not_the_claimed_name() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    let (mut watcher, _) = Client::hello_as(&hub.url(), &acc.viewer, "vi", "c-vi", "ward").await;
    let (mut ed, _) = Client::hello_as(&hub.url(), &acc.editor, "olga", "c-ed", "ward").await;
    let seq = snapshot_seq(&hub.url(), &acc.owner).await;
    let ack = ed
        .edit(1, vec![set("s2", "2026-12-05", Some("N"), seq)])
        .await;
    assert!(matches!(ack, ServerMsg::Ack { .. }), "{ack:?}");
    let change = watcher
        .recv_until(|m| matches!(m, ServerMsg::Change(_)))
        .await;
    let ServerMsg::Change(cs) = change else {
        unreachable!()
    };
    assert_eq!(cs.user, "ed", "broadcast names the account");
    ed.send(&ClientMsg::Presence {
        cursor: Some(rota::protocol::Cursor {
            staff: "s2".into(),
            date: d("2026-12-05"),
        }),
    })
    .await;
    let p = watcher
        .recv_until(|m| matches!(m, ServerMsg::Presence(_)))
        .await;
    let ServerMsg::Presence(p) = p else {
        unreachable!()
    };
    assert_eq!(p.user, "ed");
    watcher
        .send(&ClientMsg::History {
            req: None,
            query: HistoryQuery {
                staff: Some("s2".into()),
                ..Default::default()
            },
        })
        .await;
    match watcher.answer().await {
        ServerMsg::History { entries, .. } => {
            let cell = entries
                .iter()
                .find(|e| e.date == Some(d("2026-12-05")))
                .unwrap();
            assert_eq!(cell.user, "ed");
        }
        other => panic!("{other:?}"),
    }
}

/// A client id belongs to the account that first used it: another account
/// cannot join under it, so it cannot pre-claim the owner's next op ids.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_cannot_use_a_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    let (mut ed, _) = Client::hello_as(&hub.url(), &acc.editor, "ed", "c-ed", "ward").await;
    let seq = snapshot_seq(&hub.url(), &acc.owner).await;
    assert!(matches!(
        ed.edit(1, vec![set("s1", "2026-12-10", Some("D"), seq)])
            .await,
        ServerMsg::Ack { .. }
    ));
    // The admin read ed's client id from history and tries to take op 2.
    let (_ada, first) = Client::hello_as(&hub.url(), &acc.admin, "ada", "c-ed", "ward").await;
    let (code, message, _) = error_code(&first);
    assert_eq!(code, codes::FORBIDDEN);
    assert!(
        message.contains("client id `c-ed` is another account's"),
        "{message}"
    );
    // Ed's op 2 is his own edit, applied.
    let seq = snapshot_seq(&hub.url(), &acc.owner).await;
    match ed
        .edit(2, vec![set("s1", "2026-12-11", Some("N"), seq)])
        .await
    {
        ServerMsg::Ack { seq: s, .. } => assert!(s > seq),
        other => panic!("{other:?}"),
    }
    let log = change_log(dir.path());
    assert!(log.iter().filter(|(c, _, _)| c == "c-ed").count() == 2);
}

/// Revoking a token from another process closes its connections at once
/// (4001); taking a role away closes the connections on that roster (4003);
/// lowering a role refuses the next write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_role_changes_take_effect_on_open_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut acc) = hub_with_accounts(dir.path()).await;
    let (mut ed, _) = Client::hello_as(&hub.url(), &acc.editor, "ed", "c-ed", "ward").await;
    let (mut vi, _) = Client::hello_as(&hub.url(), &acc.viewer, "vi", "c-vi", "ward").await;
    let (mut ada, _) = Client::hello_as(&hub.url(), &acc.admin, "ada", "c-ada", "ward").await;

    let who = acc
        .file
        .load()
        .unwrap()
        .authenticate(Some(&acc.editor))
        .unwrap();
    acc.file.revoke_token(&who.token_id).unwrap();
    assert_eq!(
        ed.closed().await,
        (close::UNAUTHORIZED, "your token was revoked".into())
    );

    acc.file.set_role("vi", "ward", None).unwrap();
    let (code, reason) = vi.closed().await;
    assert_eq!(code, close::FORBIDDEN);
    assert!(
        reason.contains("no longer have a role on roster `ward`"),
        "{reason}"
    );

    acc.file
        .set_role("ada", "ward", Some(Role::Editor))
        .unwrap();
    // The admin stays connected, as an editor now (sent the draft as
    // before; a role sent the published view starts over: published.rs):
    // wait (bounded) until the hub has taken the change, then a rule edit
    // is refused.
    let refused = async {
        for op_id in 1.. {
            let m = ada
                .edit(op_id, vec![forbidden(&format!("r{op_id}"), "N", "D")])
                .await;
            if let ServerMsg::Error { code, message, .. } = m {
                return (code, message);
            }
        }
        unreachable!()
    };
    let (code, message) = tokio::time::timeout(WAIT, refused).await.unwrap();
    assert_eq!(code, codes::FORBIDDEN);
    assert!(message.contains("you are an editor"), "{message}");
}

/// A hub without users is open, as the embedded hub of a lone editor is;
/// adding the first user closes the connections that came without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_user_closes_an_open_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    seed(&hub.url(), 2).await;
    let (mut anon, _) = Client::join(&hub.url(), "anyone", "c-any", "default", 0).await;
    let mut file = AccountsFile::open_in(dir.path()).unwrap();
    let token = file.add_user("olga", Grant::Owner).unwrap();
    let (code, reason) = anon.closed().await;
    assert_eq!(code, close::UNAUTHORIZED);
    assert!(reason.contains("now has accounts"), "{reason}");
    let (_c, w) = Client::hello_as(&hub.url(), &token, "olga", "c-olga", "default").await;
    assert!(matches!(w, ServerMsg::Welcome { .. }), "{w:?}");
}

/// The real binary, run to its end with `env` set; (status, stdout, stderr).
async fn rota_bin(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rota"))
            .args(&args)
            .env_remove("ROTA_TOKEN")
            .envs(env)
            .env("ROTA_CONFIG", "/nonexistent/rota-test-config.toml")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// The account flags of the real binary against a running hub's data dir:
/// a user added prints a token that works for `--apply` (from ROTA_TOKEN),
/// `--list-users` shows roles and token ids, bad flags say what is wrong,
/// and `--revoke-token` closes the hub's connections under that token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_account_flags_manage_a_running_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let data = hub_dir.to_str().unwrap().to_string();
    let (status, token, err) = rota_bin(
        &[
            "--serve",
            "--data",
            &data,
            "--add-user",
            "olga",
            "--role",
            "owner",
        ],
        &[],
    )
    .await;
    assert_eq!(status, 0, "{err}");
    let olga = token.trim().to_string();
    assert!(olga.starts_with("rota_"), "{token}");
    assert!(err.contains("shown only this once"), "{err}");
    let (status, token, err) = rota_bin(
        &[
            "--serve",
            "--data",
            &data,
            "--add-user",
            "ed",
            "--role",
            "editor",
            "--roster",
            "ward",
        ],
        &[],
    )
    .await;
    assert_eq!(status, 0, "{err}");
    let ed = token.trim().to_string();

    for (args, says) in [
        (
            vec!["--add-user", "x", "--role", "chief", "--roster", "ward"],
            "--role `chief`",
        ),
        (
            vec!["--add-user", "x", "--role", "editor"],
            "say which with --roster",
        ),
        (
            vec!["--add-user", "ed", "--role", "owner"],
            "exists already",
        ),
        (
            vec!["--set-role", "nobody", "--role", "viewer", "--roster", "w"],
            "no user `nobody`",
        ),
        (vec!["--revoke-token", "0123"], "no token `0123`"),
        // Issue 22: the staff role names its row.
        (
            vec!["--add-user", "sue", "--role", "staff", "--roster", "ward"],
            "--role staff is bound to one staff row: say whose with --staff",
        ),
        (
            vec!["--set-role", "ed", "--role", "staff", "--roster", "ward"],
            "say whose with --staff",
        ),
        // Issue 25, hole 7: names that display as another's.
        (
            vec!["--add-user", "olga\u{200B}", "--role", "owner"],
            "`olga<U+200B>` holds U+200B",
        ),
        (
            vec!["--add-user", "\u{202E}agl\u{202C}o", "--role", "owner"],
            "holds U+202E",
        ),
        // A Greek omicron for the o of olga, a Cyrillic е for the e of ed.
        (
            vec!["--add-user", "\u{03BF}lga", "--role", "owner"],
            "looks the same as the user `olga`",
        ),
        (
            vec!["--add-user", "\u{0435}d", "--role", "owner"],
            "looks the same as the user `ed`",
        ),
        // Found by a new user: case, and an accent as a combining mark.
        (
            vec!["--add-user", "ED", "--role", "owner"],
            "looks the same as the user `ed`",
        ),
        (
            vec!["--add-user", "e\u{0301}d", "--role", "owner"],
            "looks the same as the user `ed`",
        ),
        // A Cyrillic а in a Latin name that is like no other.
        (
            vec!["--add-user", "\u{0430}dminnia", "--role", "owner"],
            "mixes scripts",
        ),
    ] {
        let mut all = vec!["--serve", "--data", &data];
        all.extend(args.iter());
        let (status, _, err) = rota_bin(&all, &[]).await;
        assert_eq!(status, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }

    let hub = Hub::start(&hub_dir).await;
    let (mut c, _) = Client::hello_as(&hub.url(), &olga, "olga", "c-olga", "ward").await;
    assert!(matches!(
        c.edit(1, setup_ops(2)).await,
        ServerMsg::Ack { .. }
    ));
    // Issue 22: a staff role or a calendar feed names a row the roster has
    // (its id or its display name), read from the store while the hub runs.
    for (args, status, says) in [
        (
            vec![
                "--add-user",
                "zed",
                "--role",
                "staff",
                "--staff",
                "nosuch",
                "--roster",
                "ward",
            ],
            2,
            "unknown staff `nosuch`",
        ),
        (
            vec![
                "--add-user",
                "zed",
                "--role",
                "staff",
                "--staff",
                "s1",
                "--roster",
                "nowhere",
            ],
            2,
            "no roster `nowhere`",
        ),
        (
            vec!["--calendar-url", "nobody", "--roster", "ward"],
            2,
            "unknown staff `nobody`",
        ),
        (
            vec![
                "--add-user",
                "kim",
                "--role",
                "staff",
                "--staff",
                "Person 2",
                "--roster",
                "ward",
            ],
            0,
            "staff of roster ward, as staff row s2",
        ),
    ] {
        let mut all = vec!["--serve", "--data", &data];
        all.extend(args.iter());
        let (got, _, err) = rota_bin(&all, &[]).await;
        assert_eq!(got, status, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let client_data = dir.path().join("client");
    let csv = dir.path().join("week.csv");
    std::fs::write(&csv, "staff,date,code\ns1,2026-12-01,D\n").unwrap();
    let url = hub.url();
    let apply = |token: String| {
        let (url, client_data, csv) = (url.clone(), client_data.clone(), csv.clone());
        async move {
            rota_bin(
                &[
                    "--apply",
                    csv.to_str().unwrap(),
                    "--server",
                    &url,
                    "--roster",
                    "ward",
                    "--data",
                    client_data.to_str().unwrap(),
                    "--timeout",
                    "10",
                ],
                &[("ROTA_TOKEN", &token)],
            )
            .await
        }
    };
    let (status, out, err) = apply(ed.clone()).await;
    assert_eq!(status, 0, "{out}{err}");
    let (_, cells) = owner_view(&hub.url(), &olga).await;
    assert!(
        cells.to_string().contains(r#"["s1","2026-12-01","D""#),
        "{cells}"
    );

    // A viewer's file is refused before anything is queued: its own exit
    // status, the role it takes, nothing changed on the hub.
    let (status, token, err) = rota_bin(
        &[
            "--serve",
            "--data",
            &data,
            "--add-user",
            "vi",
            "--role",
            "viewer",
            "--roster",
            "ward",
        ],
        &[],
    )
    .await;
    assert_eq!(status, 0, "{err}");
    std::fs::write(&csv, "staff,date,code\ns1,2026-12-01,N\n").unwrap();
    let vi_data = dir.path().join("vi");
    let (status, out, err) = rota_bin(
        &[
            "--apply",
            csv.to_str().unwrap(),
            "--server",
            &url,
            "--roster",
            "ward",
            "--data",
            vi_data.to_str().unwrap(),
            "--timeout",
            "10",
        ],
        &[("ROTA_TOKEN", token.trim())],
    )
    .await;
    assert_eq!(status, 6, "{out}{err}");
    assert!(
        err.contains("takes the editor role; you are a viewer"),
        "{err}"
    );
    let (_, cells) = owner_view(&hub.url(), &olga).await;
    assert!(
        cells.to_string().contains(r#"["s1","2026-12-01","D""#),
        "unchanged: {cells}"
    );

    let (status, list, err) = rota_bin(&["--serve", "--data", &data, "--list-users"], &[]).await;
    assert_eq!(status, 0, "{err}");
    let ed_line = list.lines().find(|l| l.starts_with("ed\t")).unwrap();
    assert!(ed_line.contains("editor of ward"), "{list}");
    let ed_id = ed.split('_').nth(1).unwrap();
    assert!(ed_line.contains(ed_id), "{list}");
    assert!(!list.contains(&ed), "the list never shows a secret");

    let (mut ed_conn, w) = Client::hello_as(&hub.url(), &ed, "ed", "c-ed2", "ward").await;
    assert!(matches!(w, ServerMsg::Welcome { .. }));
    let (status, _, err) =
        rota_bin(&["--serve", "--data", &data, "--revoke-token", ed_id], &[]).await;
    assert_eq!(status, 0, "{err}");
    assert_eq!(ed_conn.closed().await.0, close::UNAUTHORIZED);
    // A script with the revoked token is told why, once, and does not
    // hang: refused is its own status, with no offer to queue the edit.
    let (status, out, err) = apply(ed).await;
    assert_eq!(status, 6, "{out}{err}");
    assert!(err.contains("the token was revoked"), "{err}");
    assert!(
        !err.contains("unreachable") && !err.contains("--queue"),
        "{err}"
    );
}

/// A sync engine on roster `ward` showing `token`.
fn ward_engine(
    hub: &Hub,
    user: &str,
    data: &std::path::Path,
    token: &str,
) -> rota::sync::SyncEngine {
    let mut c = engine_config(&hub.url(), user, data);
    c.roster = "ward".into();
    c.token = Some(token.to_string());
    rota::sync::SyncEngine::start(c).unwrap()
}

/// The sync engine sends its token; refused, it says why and waits to be
/// asked rather than trying the same token again and again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_engine_stops_trying_until_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    let good = ward_engine(&hub, "ed", &dir.path().join("good"), &acc.editor);
    wait_connected(&good).await;
    let bad_token = acc.editor.replace("rota_", "rota_0");
    let bad = ward_engine(&hub, "ed", &dir.path().join("bad"), &bad_token);
    let st = wait_status(&bad, "refused", |s| {
        matches!(s.conn, rota::sync::ConnState::Refused { .. })
    })
    .await;
    let rota::sync::ConnState::Refused { reason } = st.conn else {
        unreachable!()
    };
    assert!(reason.contains("the token was refused"), "{reason}");
    let refused = metric(hub.addr, "rota_auth_refused_total").await;
    assert_eq!(refused, 1.0);
    // The good engine does a round of work meanwhile; a retrying engine
    // (20 ms backoff) would have been refused again many times.
    for i in 0..20 {
        good.edit(vec![set(
            "s2",
            &format!("2026-12-{:02}", i + 1),
            Some("D"),
            0,
        )])
        .unwrap();
    }
    wait_status(&good, "saved", |s| s.pending == 0).await;
    assert_eq!(metric(hub.addr, "rota_auth_refused_total").await, 1.0);
    bad.reconnect_now();
    let refused_again = async {
        while metric(hub.addr, "rota_auth_refused_total").await < 2.0 {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(WAIT, refused_again)
        .await
        .expect("asked, it tries once more");
    good.shutdown();
    bad.shutdown();
}

/// The viewer's engine on a roster: it reads and follows, and its edits
/// come back rejected (forbidden), not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewers_engine_reads_and_its_edits_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    let vi = ward_engine(&hub, "vi", &dir.path().join("vi"), &acc.viewer);
    wait_connected(&vi).await;
    let before = view_cells(&vi);
    assert!(
        before
            .iter()
            .any(|(s, _, code)| s == "s1" && code.as_deref() == Some("D"))
    );
    vi.edit(vec![set("s1", "2026-12-01", Some("N"), 0)])
        .unwrap();
    let st = wait_status(&vi, "rejected", |s| s.rejected == 1 && s.pending == 0).await;
    assert_eq!(st.rejected, 1);
    vi.shutdown();
}

/// An admin lists the roster's users, adds one (whose token works), changes
/// a role and takes one away (that user's connection closes); an editor may
/// not, and a hub without accounts says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_the_rosters_users_over_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    let (mut ada, _) = Client::hello_as(&hub.url(), &acc.admin, "ada", "c-ada", "ward").await;
    let users = |m: ServerMsg| match m {
        ServerMsg::Users { users, token, .. } => (
            users
                .into_iter()
                .map(|u| (u.user, u.role, u.owner))
                .collect::<Vec<_>>(),
            token,
        ),
        other => panic!("{other:?}"),
    };
    ada.send(&ClientMsg::Users { req: Some(1) }).await;
    let (list, _) = users(ada.answer().await);
    let s = |a: &str, r: &str, o: bool| (a.to_string(), r.to_string(), o);
    assert_eq!(
        list,
        [
            s("ada", "admin", false),
            s("ed", "editor", false),
            s("olga", "admin", true),
            s("vi", "viewer", false)
        ],
        "otto (ward-b only) is not listed"
    );
    let set = |user: &str, role: Option<&str>, create: bool| ClientMsg::SetRole {
        req: Some(2),
        user: user.into(),
        role: role.map(str::to_string),
        create,
        staff: None,
    };
    ada.send(&set("nia", Some("viewer"), true)).await;
    let (list, token) = users(ada.answer().await);
    assert!(list.contains(&s("nia", "viewer", false)));
    let token = token.expect("a new user's token");
    let (_nia, w) = Client::hello_as(&hub.url(), &token, "nia", "c-nia", "ward").await;
    assert!(matches!(w, ServerMsg::Welcome { .. }), "{w:?}");
    // Ed goes from editor to nothing: his connection closes.
    let (mut ed, _) = Client::hello_as(&hub.url(), &acc.editor, "ed", "c-ed", "ward").await;
    ada.send(&set("ed", None, false)).await;
    let (list, _) = users(ada.answer().await);
    assert!(list.iter().all(|(u, _, _)| u != "ed"));
    assert_eq!(ed.closed().await.0, close::FORBIDDEN);
    // Mistakes: a bad role, an owner, an unknown user.
    for (msg, says) in [
        (set("vi", Some("chief"), false), "is not a role"),
        (set("olga", Some("viewer"), false), "owns the whole hub"),
        (set("nobody", Some("viewer"), false), "no user `nobody`"),
        (set("vi", Some("editor"), true), "exists already"),
    ] {
        ada.send(&msg).await;
        let answer = ada.answer().await;
        let (_, message, _) = error_code(&answer);
        assert!(message.contains(says), "{message}");
    }
    // A viewer may not see or change the users.
    let (mut vi, _) = Client::hello_as(&hub.url(), &acc.viewer, "vi", "c-vi", "ward").await;
    vi.send(&set("vi", Some("admin"), false)).await;
    let answer = vi.answer().await;
    let (code, message, _) = error_code(&answer);
    assert_eq!(code, codes::FORBIDDEN, "{message}");
    vi.send(&ClientMsg::Users { req: None }).await;
    assert_eq!(error_code(&vi.answer().await).0, codes::FORBIDDEN);
    let seq_roles = AccountsFile::open_in(dir.path()).unwrap().load().unwrap();
    assert_eq!(seq_roles.role_on("vi", "ward"), Some(Role::Viewer));

    // A hub without accounts has no users to manage.
    let open_dir = tempfile::tempdir().unwrap();
    let open = Hub::start(open_dir.path()).await;
    let (mut anyone, _) = Client::join(&open.url(), "x", "c-x", "default", 0).await;
    anyone.send(&ClientMsg::Users { req: None }).await;
    assert_eq!(error_code(&anyone.answer().await).0, codes::NO_ACCOUNTS);
}

/// Issue 25, hole 3: on a hub with accounts, /health says to anyone only
/// that the hub is up and ready; each roster and its seq need an owner's
/// token (or, by default, a client on the hub's own machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_names_rosters_only_to_an_owner_or_the_hubs_machine() {
    let dir = tempfile::tempdir().unwrap();
    let acc = accounts(dir.path());
    let mut config = rota::server::Config::new(dir.path().to_path_buf());
    // As if from another machine: loopback not spared.
    config.health_detail_loopback = false;
    let hub = Hub::start_with(config).await;
    let (mut c, _) = Client::hello_as(&hub.url(), &acc.owner, "olga", "c-olga", "ward").await;
    assert!(matches!(
        c.edit(1, setup_ops(2)).await,
        ServerMsg::Ack { .. }
    ));
    for token in [None, Some(acc.editor.as_str()), Some("rota_not_a_token")] {
        let (status, body) = http_get_as(hub.addr, "/health", token).await;
        assert_eq!(status, 200);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "ok", "{body}");
        assert_eq!(v["ready"], true, "{body}");
        assert!(
            v.get("seqs").is_none() && !body.contains("ward") && v.get("rosters").is_none(),
            "{token:?}: {body}"
        );
    }
    let (_, body) = http_get_as(hub.addr, "/health", Some(&acc.owner)).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(v["seqs"]["ward"].as_u64() >= Some(1), "{body}");
    // /metrics names no roster at all.
    let (_, metrics) = http_get(hub.addr, "/metrics").await;
    assert!(!metrics.contains("ward"), "{metrics}");
    // On the hub's own machine (the default), a monitor reads it whole.
    drop(c);
    hub.stop().await.unwrap();
    let hub = Hub::start(dir.path()).await;
    let (_, body) = http_get(hub.addr, "/health").await;
    assert!(body.contains("\"ward\""), "{body}");
    // But not through a proxy on that machine (found by a new user): a
    // request it forwarded says so, and is from anywhere.
    for header in [
        "X-Forwarded-For: 203.0.113.9\r\n",
        "Forwarded: for=203.0.113.9\r\n",
        "X-Real-IP: 203.0.113.9\r\n",
    ] {
        let (status, body) = http_get_with(hub.addr, "/health", header).await;
        assert_eq!(status, 200, "{header}");
        assert!(
            !body.contains("ward") && body.contains("\"ready\""),
            "{header}: {body}"
        );
    }
}

/// Issue 25, hole 2: a client id used before the hub had accounts belongs
/// to the name that used it. Another account that read it in history
/// cannot say hello with it (and so cannot receive its answers or edit
/// under it); the account of that name can, and owns it from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_from_before_accounts_is_its_users_alone() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(dir.path()).await;
    seed(&hub.url(), 2).await;
    let (mut old, _) = Client::join(&hub.url(), "ann", "c-ann-desk", "default", 0).await;
    assert!(
        ack_seq(
            &old.edit(5, vec![set("s1", "2026-12-01", Some("D"), 0)])
                .await
        ) > 0
    );
    drop(old);
    hub.stop().await.unwrap();
    // Accounts come: ann and mallory, both editors of the roster.
    let mut file = AccountsFile::open_in(dir.path()).unwrap();
    file.add_user("olga", Grant::Owner).unwrap();
    let ann = file.add_user("ann", role("default", Role::Editor)).unwrap();
    let mallory = file
        .add_user("mallory", role("default", Role::Editor))
        .unwrap();
    let hub = Hub::start(dir.path()).await;
    let (_m, first) =
        Client::hello_as(&hub.url(), &mallory, "mallory", "c-ann-desk", "default").await;
    let (code, message, _) = error_code(&first);
    assert_eq!(code, "forbidden", "{first:?}");
    assert!(message.contains("used before accounts by ann"), "{message}");
    let (_a, first) = Client::hello_as(&hub.url(), &ann, "ann", "c-ann-desk", "default").await;
    assert!(matches!(first, ServerMsg::Welcome { .. }), "{first:?}");
    // Claimed: still refused to mallory.
    let (_m, first) =
        Client::hello_as(&hub.url(), &mallory, "mallory", "c-ann-desk", "default").await;
    assert_eq!(error_code(&first).0, "forbidden", "{first:?}");
}

/// Milliseconds since the epoch, the clock the hub stamps commits with.
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Keeps `WINDOW` single-cell edits in flight on `c` until the hub closes
/// it; sends the `at` of every ack on `acks` as it comes. Returns the close
/// code (0: no close frame).
async fn pipeline_until_closed(
    mut c: Client,
    acks: tokio::sync::mpsc::UnboundedSender<i64>,
) -> u16 {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    const WINDOW: u64 = 16;
    let edit = |op_id: u64| {
        // Each edit changes its cell, so each is a batch in the change log.
        let code = if (op_id / 20).is_multiple_of(2) {
            "D"
        } else {
            "N"
        };
        let day = format!("2026-12-{:02}", 2 + op_id % 20);
        Message::Text(
            serde_json::to_string(&ClientMsg::Edit {
                op_id,
                ops: vec![set("s2", &day, Some(code), 0)],
                note: None,
                force: true,
                more: false,
                part: None,
            })
            .unwrap()
            .into(),
        )
    };
    let mut next = 1;
    while next <= WINDOW {
        if c.ws.send(edit(next)).await.is_err() {
            return 0;
        }
        next += 1;
    }
    loop {
        let msg = match tokio::time::timeout(WAIT, c.ws.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(_) => return 0,
            Err(_) => panic!("the pipelining connection heard nothing for {WAIT:?}"),
        };
        match msg {
            Message::Text(t) => {
                let msgs = match rota::protocol::decode_server(&t) {
                    Ok(ServerMsg::Batch { msgs }) => msgs,
                    Ok(m) => vec![m],
                    Err(e) => panic!("{e}: {t}"),
                };
                for m in msgs {
                    if let ServerMsg::Ack { at, .. } = m {
                        let _ = acks.send(at);
                        // After a close the send fails; the close frame follows.
                        let _ = c.ws.send(edit(next)).await;
                        next += 1;
                    }
                }
            }
            Message::Close(f) => return f.map_or(0, |f| f.code.into()),
            _ => {}
        }
    }
}

/// The latest commit time of `client`'s batches in the hub's change log
/// of roster `ward`.
fn last_commit_of(dir: &std::path::Path, client: &str) -> Option<i64> {
    let db = rusqlite::Connection::open(store_of(dir, "ward")).unwrap();
    db.query_row(
        "SELECT max(at) FROM batches WHERE client = ?1",
        [client],
        |r| r.get(0),
    )
    .unwrap()
}

/// Starts `c` pipelining edits, runs the account flags `args` once 50 of
/// them were acknowledged, and checks that nothing was committed for it,
/// nor acknowledged to it, after the command returned; returns the code the
/// connection was closed with.
async fn taken_away_mid_flight(dir: &std::path::Path, c: Client, args: &[&str]) -> u16 {
    let client = c.client_id.clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(pipeline_until_closed(c, tx));
    for _ in 0..50 {
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("acks while pipelining")
            .expect("the connection keeps going");
    }
    let data = dir.to_str().unwrap();
    let mut full = vec!["--serve", "--data", data];
    full.extend_from_slice(args);
    let (status, _, err) = rota_bin(&full, &[]).await;
    let returned = wall_ms();
    assert_eq!(status, 0, "{args:?}: {err}");
    let code = tokio::time::timeout(WAIT, task)
        .await
        .expect("the connection is closed in time")
        .unwrap();
    let mut late = Vec::new();
    while let Ok(at) = rx.try_recv() {
        if at > returned {
            late.push(at - returned);
        }
    }
    assert!(
        late.is_empty(),
        "{args:?}: {} edit(s) acknowledged that were committed after the command returned \
         (the last {} ms after)",
        late.len(),
        late.iter().max().unwrap_or(&0)
    );
    let last = last_commit_of(dir, &client).expect("some edits committed");
    assert!(
        last <= returned,
        "{args:?}: an edit of {client} committed {} ms after the command returned",
        last - returned
    );
    code
}

/// The account flags keep the docs' promise: when `--revoke-token`,
/// `--set-role … none`, `--remove-user` (or `--add-user` on an open hub)
/// returns, nothing more is committed or acknowledged under what it took
/// away, though the connection was pipelining edits all along; what
/// `--new-token` gives works at the first try.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_acknowledged_after_the_flag_that_took_it_away_returns() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut acc) = hub_with_accounts(dir.path()).await;
    let url = hub.url();
    let eve = acc
        .file
        .add_user("eve", role("ward", Role::Editor))
        .unwrap();
    let max = acc
        .file
        .add_user("max", role("ward", Role::Editor))
        .unwrap();

    let (c, w) = Client::hello_as(&url, &acc.editor, "ed", "c-ed-pipe", "ward").await;
    assert!(matches!(w, ServerMsg::Welcome { .. }), "{w:?}");
    let ed_id = acc.editor.split('_').nth(1).unwrap().to_string();
    let code = taken_away_mid_flight(dir.path(), c, &["--revoke-token", &ed_id]).await;
    assert_eq!(code, close::UNAUTHORIZED);

    let (c, w) = Client::hello_as(&url, &eve, "eve", "c-eve-pipe", "ward").await;
    assert!(matches!(w, ServerMsg::Welcome { .. }), "{w:?}");
    let args = ["--set-role", "eve", "--role", "none", "--roster", "ward"];
    let code = taken_away_mid_flight(dir.path(), c, &args).await;
    assert_eq!(code, close::FORBIDDEN);

    let (c, w) = Client::hello_as(&url, &max, "max", "c-max-pipe", "ward").await;
    assert!(matches!(w, ServerMsg::Welcome { .. }), "{w:?}");
    let code = taken_away_mid_flight(dir.path(), c, &["--remove-user", "max"]).await;
    assert_eq!(code, close::UNAUTHORIZED);

    // Given: usable the moment the command returns, with no retry.
    let data = dir.path().to_str().unwrap();
    let (status, token, err) =
        rota_bin(&["--serve", "--data", data, "--new-token", "ed"], &[]).await;
    assert_eq!(status, 0, "{err}");
    let (mut c, w) = Client::hello_as(&url, token.trim(), "ed", "c-ed-new", "ward").await;
    assert!(matches!(w, ServerMsg::Welcome { .. }), "{w:?}");
    let ack = c.edit(1, vec![set("s1", "2026-12-03", Some("N"), 0)]).await;
    assert!(matches!(ack, ServerMsg::Ack { .. }), "{ack:?}");
    hub.stop().await.unwrap();

    // An open hub taking on users: its tokenless connections stop at once.
    let open = tempfile::tempdir().unwrap();
    let hub = Hub::start(open.path()).await;
    let (mut c, _) = Client::join(&hub.url(), "anon", "c-anon", "ward", 0).await;
    let ack = c.edit(100, setup_ops(3)).await;
    assert!(matches!(ack, ServerMsg::Ack { .. }), "{ack:?}");
    let code =
        taken_away_mid_flight(open.path(), c, &["--add-user", "olga", "--role", "owner"]).await;
    assert_eq!(code, close::UNAUTHORIZED);
    hub.stop().await.unwrap();
}

/// Issue 22: a staff account, bound to one row, enters and withdraws its
/// own requests and nothing else, and reads only its own row's history;
/// editors enter anyone's requests, viewers none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_write_only_their_own_requests_and_read_only_their_own_history() {
    use rota::domain::{Request, Wish};
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut acc) = hub_with_accounts(dir.path()).await;
    let sue = acc
        .file
        .add_user(
            "sue",
            Grant::Staff {
                roster: "ward".into(),
                staff: "s1".into(),
            },
        )
        .unwrap();
    let ask = |staff: &str, wish: &str| Op::PutRequest {
        request: Request::new(staff, d("2026-12-24"), Wish::parse(wish).unwrap()),
        base: None,
    };
    let (mut c, w) = Client::hello_as(&hub.url(), &sue, "sue", "c-sue", "ward").await;
    let ServerMsg::Welcome {
        role, staff, seq, ..
    } = w
    else {
        panic!("{w:?}")
    };
    assert_eq!(
        (role.as_deref(), staff.as_deref()),
        (Some("staff"), Some("s1"))
    );

    let own = ack_seq(&c.edit(1, vec![ask("s1", "off")]).await);
    assert!(own > seq);
    for (op_id, ops) in [
        (2, vec![ask("s2", "off")]),
        (3, vec![set("s1", "2026-12-02", Some("D"), 0)]),
        (
            4,
            vec![ask("s1", "on D"), set("s1", "2026-12-03", Some("D"), 0)],
        ),
        (
            5,
            vec![Op::RemoveRequest {
                staff: "s2".into(),
                date: d("2026-12-24"),
                base: None,
            }],
        ),
    ] {
        let answer = c.edit(op_id, ops).await;
        let (code, message, id) = error_code(&answer);
        assert_eq!((code, id), (codes::FORBIDDEN, Some(op_id)), "{message}");
        assert!(message.contains("nothing of it is applied"), "{message}");
    }
    let withdraw = Op::RemoveRequest {
        staff: "s1".into(),
        date: d("2026-12-24"),
        base: Some(own),
    };
    let gone = ack_seq(&c.edit(6, vec![withdraw]).await);
    assert_eq!(gone, own + 1, "nothing refused was applied in between");

    // History: their own row's only, and only about that row.
    c.send(&ClientMsg::History {
        req: Some(1),
        query: HistoryQuery {
            staff: Some("s1".into()),
            ..Default::default()
        },
    })
    .await;
    match c.answer().await {
        ServerMsg::History { entries, .. } => {
            assert!(!entries.is_empty());
            assert!(
                entries.iter().all(|e| e.staff.as_deref() == Some("s1")),
                "{entries:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    for query in [
        HistoryQuery::default(),
        HistoryQuery {
            staff: Some("s2".into()),
            ..Default::default()
        },
        HistoryQuery {
            date: Some(d("2026-12-01")),
            ..Default::default()
        },
    ] {
        c.send(&ClientMsg::History {
            req: Some(2),
            query,
        })
        .await;
        let answer = c.answer().await;
        let (code, message, _) = error_code(&answer);
        assert_eq!(code, codes::FORBIDDEN, "{message}");
        assert!(message.contains("your own row"), "{message}");
    }

    // The editor enters anyone's request; the viewer none.
    let (mut ed, _) = Client::hello_as(&hub.url(), &acc.editor, "ed", "c-ed", "ward").await;
    ack_seq(&ed.edit(1, vec![ask("s2", "on D")]).await);
    let (mut vi, _) = Client::hello_as(&hub.url(), &acc.viewer, "vi", "c-vi", "ward").await;
    let answer = vi.edit(1, vec![ask("s1", "off")]).await;
    assert_eq!(error_code(&answer).0, codes::FORBIDDEN);

    // Bound to another row while connected: told, and judged by it.
    acc.file.set_staff("sue", "ward", "s2").unwrap();
    let told = c.recv_until(|m| matches!(m, ServerMsg::Role { .. })).await;
    assert_eq!(
        told,
        ServerMsg::Role {
            role: "staff".into(),
            staff: Some("s2".into())
        }
    );
    let answer = c.edit(7, vec![ask("s1", "off")]).await;
    assert_eq!(error_code(&answer).0, codes::FORBIDDEN);
    ack_seq(&c.edit(8, vec![ask("s2", "off N")]).await);
    hub.stop().await.unwrap();
}

/// Issue 22 (found by a new-user trial): the copy of the roster an editor
/// keeps names its own edits by the account, as the hub and every other
/// editor do, not by the login name it was started with; and a request
/// sent again unchanged by someone else changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_stamps_its_own_edits_with_its_account() {
    use rota::domain::{Request, Wish};
    let dir = tempfile::tempdir().unwrap();
    let (hub, acc) = hub_with_accounts(dir.path()).await;
    // Started as "root" (a login name), connected with ed's token.
    let ed = ward_engine(&hub, "root", &dir.path().join("ed"), &acc.editor);
    wait_connected(&ed).await;
    let ask = Op::PutRequest {
        request: Request::new("s2", d("2026-12-03"), Wish::Off { code: None }),
        base: None,
    };
    ed.edit(vec![ask.clone()]).unwrap();
    let st = wait_status(&ed, "saved", |s| s.pending == 0).await;
    let by = |e: &rota::sync::SyncEngine| {
        e.server_roster()
            .request("s2", d("2026-12-03"))
            .map(|r| r.by.clone())
    };
    assert_eq!(by(&ed).as_deref(), Some("ed"), "{st:?}");
    assert_eq!(
        ed.server_roster()
            .cell("s1", d("2026-12-01"))
            .map(|(_, s)| s.user.to_string())
            .as_deref(),
        Some("olga")
    );
    // Ada sends the same request again: nothing changes, it stays Ed's.
    let (mut ada, _) = Client::hello_as(&hub.url(), &acc.admin, "ada", "c-ada", "ward").await;
    let seq = match ada.edit(1, vec![ask]).await {
        ServerMsg::Ack { seq, .. } => seq,
        other => panic!("{other:?}"),
    };
    assert_eq!(seq, st.seq, "nothing to write");
    assert_eq!(by(&ed).as_deref(), Some("ed"));
    ed.shutdown();
}

/// Issue 22: `rota --mine` on a staff account lists that account's own
/// row, without being told whose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mine_on_a_staff_account_is_that_accounts_row() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut acc) = hub_with_accounts(dir.path()).await;
    let sue = acc
        .file
        .add_user(
            "sue",
            Grant::Staff {
                roster: "ward".into(),
                staff: "s2".into(),
            },
        )
        .unwrap();
    let data = dir.path().join("sue");
    let (status, out, err) = rota_bin(
        &[
            "--mine",
            "--server",
            &hub.url(),
            "--roster",
            "ward",
            "--data",
            data.to_str().unwrap(),
            "--timeout",
            "10",
        ],
        &[("ROTA_TOKEN", sue.trim())],
    )
    .await;
    assert_eq!(status, 0, "{out}{err}");
    assert!(out.starts_with("Person 2 (s2), roster ward:"), "{out}");
    // Another's shifts: refused, said.
    let (status, out, err) = rota_bin(
        &[
            "--mine",
            "--staff",
            "s1",
            "--server",
            &hub.url(),
            "--roster",
            "ward",
            "--data",
            data.to_str().unwrap(),
            "--timeout",
            "10",
        ],
        &[("ROTA_TOKEN", sue.trim())],
    )
    .await;
    assert_eq!(status, 6, "{out}{err}");
    assert!(
        err.contains("as staff you see your own shifts only"),
        "{err}"
    );
    hub.stop().await.unwrap();
}

/// Issue 22 (a new-user trial): `rota --mine` on a staff account without
/// `--roster` asks for `default`, where the account has no role: told to
/// name the roster, not to check a token that is fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_not_given_is_said_as_the_roster_not_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, mut acc) = hub_with_accounts(dir.path()).await;
    let sue = acc
        .file
        .add_user(
            "sue",
            Grant::Staff {
                roster: "ward".into(),
                staff: "s1".into(),
            },
        )
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let data = data.path().display().to_string();
    let url = hub.url();
    let (code, _, stderr) = rota_bin(
        &["--mine", "--server", &url, "--data", &data],
        &[("ROTA_TOKEN", &sue)],
    )
    .await;
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("name the roster you have a role on with --roster NAME"),
        "{stderr}"
    );
    assert!(!stderr.contains("check the token"), "{stderr}");
    let (code, stdout, stderr) = rota_bin(
        &[
            "--mine", "--server", &url, "--data", &data, "--roster", "ward",
        ],
        &[("ROTA_TOKEN", &sue)],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.is_empty());
    hub.stop().await.unwrap();
}
