//! `hello`: joining a roster. The version and names are checked, the role
//! looked up (the accounts read again when none is found, for a role given
//! a moment ago), the client id claimed for the account, and the welcome
//! sent with a snapshot or the changes since the editor's last seq.

use super::*;

/// Most editors a welcome lists as present (those with a cursor first).
const MAX_PRESENCE_LISTED: usize = 200;

impl Conn {
    pub(super) async fn hello(
        &mut self,
        version: &str,
        user: String,
        client_id: String,
        roster: String,
        (last_seq, held): (Seq, View),
    ) -> Result<(), Option<Ending>> {
        if self.member.is_some() {
            return self
                .error(
                    codes::ALREADY_JOINED,
                    "hello was already sent on this connection".into(),
                    None,
                )
                .await;
        }
        if let Err(m) = protocol::check_version(version) {
            self.error(codes::UNSUPPORTED_VERSION, m.clone(), None)
                .await?;
            return Err(Some(Ending(CloseCode::Protocol.into(), m)));
        }
        if let Err(m) = check_roster_name(&roster) {
            return self.error(codes::BAD_ROSTER, m, None).await;
        }
        for (field, v, max) in [("user", &user, 64), ("client_id", &client_id, 128)] {
            if v.trim().is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
                let m = format!("{field} `{v}` must be 1 to {max} printable characters");
                return self.error(codes::BAD_MESSAGE, m, None).await;
            }
        }
        // On a hub with accounts the change log and presence name the
        // account, never the name the client gives.
        let user = match &self.who {
            Some(who) => who.user.clone(),
            None => user,
        };
        let mut role = auth::role_of(&self.shared.gate.current(), self.who.as_ref(), &roster);
        if role.is_none() && self.who.is_some() {
            // Perhaps a role given a moment ago: the file, read again.
            let gate = self.shared.gate.clone();
            if let Ok(fresh) = tokio::task::spawn_blocking(move || gate.fresh()).await {
                role = auth::role_of(&fresh, self.who.as_ref(), &roster);
            }
        }
        let Some(role) = role else {
            let m = format!(
                "no roster `{roster}` you may open: ask its admin (or the hub's owner) for a role on it"
            );
            return self.forbidden(m, None, None).await;
        };
        if let Some(who) = &self.who
            && let Err(m) = self.claim_client(&client_id, &who.user.clone()).await
        {
            return self.forbidden(m, None, None).await;
        }
        let view = View::of(Some(role));
        if view == View::Published && !protocol::reads_views(version) {
            let m = format!(
                "as {} on roster `{roster}` you are shown what was published, which this rota (protocol {version}) cannot show: upgrade rota to protocol {} or later",
                role.with_article(),
                protocol::VIEWS_SINCE
            );
            return self.forbidden(m, None, None).await;
        }
        self.writer = self.writers.for_roster(&roster);
        let (reply, answer) = oneshot::channel();
        let cmd = Cmd::Join {
            roster: roster.clone(),
            last_seq,
            view,
            held,
            reply,
        };
        if self.writer.send(cmd).await.is_err() {
            return Err(shutting_down());
        }
        let joined: Joined = match answer.await {
            Ok(Ok(j)) => j,
            Ok(Err(e)) => return self.error(codes::STORAGE, e, None).await,
            Err(_) => {
                return Err(shutting_down());
            }
        };
        let me = PresenceInfo {
            session: self.session,
            user: user.clone(),
            cursor: None,
        };
        let presence = self.shared.presence_of(&roster, MAX_PRESENCE_LISTED);
        self.shared.set_presence(&roster, me);
        let staff = auth::staff_row_of(&self.shared.gate.current(), self.who.as_ref(), &roster);
        let welcome = welcome_text(
            &self.shared,
            WelcomeHead {
                roster: roster.clone(),
                seq: joined.seq,
                session: self.session,
                presence,
                account: self.who.as_ref().map(|w| w.user.clone()),
                role: Some(role.as_str().to_string()),
                staff: staff.clone(),
                view,
            },
            joined.start,
        );
        // Joining is not announced: with N editors on a roster that costs N^2
        // frames. Others learn of this editor from its first cursor, or from
        // the presence list in their own welcome.
        self.reads_batches = protocol::reads_batches(version);
        self.member = Some(Member {
            roster,
            author: Author {
                user: user.into(),
                client: client_id.into(),
            },
            events: joined.events,
            publish: joined.publish,
            latest: joined.latest,
            told_role: Some(role),
            told_staff: staff,
            view,
        });
        self.send(Message::Text(welcome.into())).await
    }

    /// Makes `client_id` this account's, unless another account has it:
    /// otherwise anyone could read a client id from history and send edits
    /// under its next op ids, which the hub would then take for resends.
    pub(super) async fn claim_client(&self, client_id: &str, user: &str) -> Result<(), String> {
        // Not yet any account's: an id used before the hub had accounts is
        // the name's that used it, not the first account to claim it.
        if self.shared.gate.current().client_owner(client_id).is_none() {
            let places = super::super::writers::read_places(&self.config);
            let (id, u) = (client_id.to_string(), user.to_string());
            let used = tokio::task::spawn_blocking(move || -> crate::store::Result<_> {
                for place in places {
                    if let Some(other) = crate::store::other_user_of_client(&place, &id, &u)? {
                        return Ok(Some(other));
                    }
                }
                Ok(None)
            })
            .await;
            match used {
                Ok(Ok(None)) => {}
                Ok(Ok(Some(other))) => {
                    return Err(format!(
                        "client id `{client_id}` was used before accounts by {other}: it is theirs; each install makes its own; use another local file (--data) for this account"
                    ));
                }
                Ok(Err(e)) => {
                    tracing::error!("reading who used client id {client_id}: {e}");
                    return Err("the hub could not check this client id; try again".into());
                }
                Err(_) => return Err("the hub could not check this client id; try again".into()),
            }
        }
        let gate = self.shared.gate.clone();
        let (id, u) = (client_id.to_string(), user.to_string());
        let claimed = tokio::task::spawn_blocking(move || gate.claim_client(&id, &u)).await;
        match claimed {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(_other))) => Err(format!(
                "client id `{client_id}` is another account's: each install makes its own; use another local file (--data) for this account"
            )),
            Ok(Err(e)) => {
                tracing::error!("claiming client id {client_id}: {e}");
                Err("the hub could not record this client id; try again".into())
            }
            Err(_) => Err("the hub could not record this client id; try again".into()),
        }
    }
}
