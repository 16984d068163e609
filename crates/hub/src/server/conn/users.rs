//! `users` and `set_role`: an admin's view and changes of the roster's
//! users; and the role this connection has, checked against the accounts
//! as they are now and told to the editor when it changes.

use super::*;

impl Conn {
    /// `users`: the roster's users and their roles, to an admin.
    pub(super) async fn users(&mut self, req: Option<u64>) -> Result<(), Option<Ending>> {
        if let Some(why) = self.users_refusal() {
            return self.refuse_users_request(why, req).await;
        }
        self.send_users(req, None).await
    }

    /// Why this connection may not `what` on its roster, needing `need`; None
    /// when it may. Checked against the accounts as they are now.
    pub(super) fn refusal(&self, need: Role, what: &str) -> Option<String> {
        let roster = &self.member.as_ref()?.roster;
        let has = auth::role_of(&self.shared.gate.current(), self.who.as_ref(), roster);
        match has {
            Some(role) if role >= need => None,
            Some(role) => Some(format!(
                "to {what} on roster `{roster}` takes the {need} role; you are a {role}"
            )),
            None => Some(format!("you have no role on roster `{roster}`")),
        }
    }

    /// Why this connection may not make an edit of `ops` on its roster
    /// (staff: only their own row's requests).
    pub(super) fn edit_refusal(&self, ops: &[rota_core::domain::Op]) -> Option<String> {
        let roster = &self.member.as_ref()?.roster;
        let accounts = self.shared.gate.current();
        let Some(role) = auth::role_of(&accounts, self.who.as_ref(), roster) else {
            return Some(format!("you have no role on roster `{roster}`"));
        };
        let own = auth::staff_row_of(&accounts, self.who.as_ref(), roster);
        (!role.allows(ops, own.as_deref()))
            .then(|| format!("on roster `{roster}` {}", role.why_not(ops, own.as_deref())))
    }

    /// Why this connection may not read the history `query` asks: a staff
    /// member reads only their own row's.
    pub(super) fn history_refusal(
        &self,
        query: &rota_core::protocol::HistoryQuery,
    ) -> Option<String> {
        let roster = &self.member.as_ref()?.roster;
        let accounts = self.shared.gate.current();
        match auth::role_of(&accounts, self.who.as_ref(), roster) {
            None => Some(format!("you have no role on roster `{roster}`")),
            Some(Role::Staff) => {
                let own = auth::staff_row_of(&accounts, self.who.as_ref(), roster);
                match own {
                    Some(me) if query.staff.as_deref() == Some(me.as_str()) => None,
                    Some(me) => Some(format!(
                        "as staff you read only your own row's history (your row: {me})"
                    )),
                    None => Some(format!(
                        "your staff role on roster `{roster}` is bound to no row"
                    )),
                }
            }
            Some(_) => None,
        }
    }

    /// Why this connection may not manage its roster's users: (code, message).
    pub(super) fn users_refusal(&self) -> Option<(&'static str, String)> {
        if self.member.is_none() {
            return Some((codes::NOT_JOINED, "send hello first".into()));
        }
        if !self.shared.gate.current().enabled() {
            return Some((
                codes::NO_ACCOUNTS,
                format!(
                    "this hub has no accounts: add the first (an owner) on the hub's machine with `rota --serve --data {} --add-user NAME --role owner`",
                    self.shared.gate.dir.display()
                ),
            ));
        }
        self.refusal(Role::Admin, "manage its users")
            .map(|m| (codes::FORBIDDEN, m))
    }

    /// Answers a `users` or `set_role` this connection may not make (a
    /// refusal for want of a role is counted as `forbidden`).
    pub(super) async fn refuse_users_request(
        &mut self,
        (code, message): (&'static str, String),
        req: Option<u64>,
    ) -> Result<(), Option<Ending>> {
        if code == codes::FORBIDDEN {
            return self.forbidden(message, None, req).await;
        }
        self.error_about(code, message, None, req).await
    }

    /// The roster's users (and a new user's token) to this connection.
    pub(super) async fn send_users(
        &mut self,
        req: Option<u64>,
        token: Option<String>,
    ) -> Result<(), Option<Ending>> {
        let Some(m) = &self.member else {
            return Ok(());
        };
        let accounts = self.shared.gate.current();
        let users = accounts
            .users_of(&m.roster)
            .into_iter()
            .map(|(user, role, owner)| protocol::RosterUser {
                staff: accounts.staff_row(&user, &m.roster).map(str::to_string),
                user,
                role: role.as_str().to_string(),
                owner,
            })
            .collect();
        let frame = protocol::encode(&ServerMsg::Users { req, users, token });
        self.send(Message::Text(frame.into())).await
    }

    /// An admin gives a user a role on this roster, takes it away, or adds
    /// a new user with one.
    pub(super) async fn set_role(
        &mut self,
        req: Option<u64>,
        user: String,
        role: Option<String>,
        create: bool,
        staff: Option<String>,
    ) -> Result<(), Option<Ending>> {
        if let Some(why) = self.users_refusal() {
            return self.refuse_users_request(why, req).await;
        }
        let Some(roster) = self.member.as_ref().map(|m| m.roster.clone()) else {
            return Ok(());
        };
        let role = match role.as_deref().map(|r| (r, Role::parse(r))) {
            None => None,
            Some((_, Some(r))) => Some(r),
            Some((r, None)) => {
                let m = format!(
                    "role: `{r}` is not a role; use staff (with staff), viewer, editor, admin or null"
                );
                return self.error_about(codes::BAD_MESSAGE, m, None, req).await;
            }
        };
        let accounts = self.shared.gate.current();
        if accounts.is_owner(&user) {
            let m = format!(
                "user: {user} owns the whole hub; an owner's role is changed on the hub's machine"
            );
            return self.error_about(codes::INVALID, m, None, req).await;
        }
        let gate = self.shared.gate.clone();
        let done = tokio::task::spawn_blocking(move || match (create, role) {
            (true, Some(role)) => gate
                .add_user(&user, &roster, role, staff.as_deref())
                .map(Some),
            (true, None) => Err(crate::accounts::AccountsError::Invalid(
                "role: a new user needs a role".into(),
            )),
            (false, role) => gate
                .set_role(&user, &roster, role, staff.as_deref())
                .map(|()| None),
        })
        .await;
        match done {
            Ok(Ok(token)) => self.send_users(req, token).await,
            Ok(Err(crate::accounts::AccountsError::Invalid(m))) => {
                self.error_about(codes::INVALID, m, None, req).await
            }
            Ok(Err(e)) => {
                tracing::error!("changing a role: {e}");
                let m = "the hub could not change the accounts; try again".to_string();
                self.error_about(codes::STORAGE, m, None, req).await
            }
            Err(_) => Err(shutting_down()),
        }
    }

    /// Tells the client its role on its roster when an admin changed it
    /// (it still has one: see `access_lost`).
    pub(super) async fn tell_role(&mut self) -> Result<(), Option<Ending>> {
        let Some(m) = &self.member else {
            return Ok(());
        };
        let accounts = self.shared.gate.current();
        let role = auth::role_of(&accounts, self.who.as_ref(), &m.roster);
        let staff = auth::staff_row_of(&accounts, self.who.as_ref(), &m.roster);
        if role == m.told_role && staff == m.told_staff {
            return Ok(());
        }
        if let Some(m) = &mut self.member {
            m.told_role = role;
            m.told_staff = staff.clone();
        }
        let Some(role) = role else {
            return Ok(());
        };
        let frame = protocol::encode(&ServerMsg::Role {
            role: role.as_str().to_string(),
            staff,
        });
        self.send(Message::Text(frame.into())).await?;
        let was = self.member.as_ref().map_or(View::Draft, |m| m.view);
        if View::of(Some(role)) != was {
            // What it holds is the other view: it starts over. (A short
            // reason: a close frame holds 123 bytes.)
            let now = match View::of(Some(role)) {
                View::Draft => "the roster as it is now",
                View::Published => "only what was published",
            };
            return Err(Some(Ending(
                close::VIEW_CHANGED,
                format!("as {} you now see {now}: reconnect", role.with_article()),
            )));
        }
        Ok(())
    }

    /// Whether this connection has lost its leave since it was checked: its
    /// token revoked, or its role on its roster taken away.
    pub(super) fn access_lost(&self) -> Option<Ending> {
        let accounts = self.shared.gate.current();
        match &self.who {
            Some(who) if !accounts.still_valid(who) => {
                return Some(Ending(close::UNAUTHORIZED, "your token was revoked".into()));
            }
            None if accounts.enabled() => {
                return Some(Ending(
                    close::UNAUTHORIZED,
                    "this hub now has accounts: connect with a token".into(),
                ));
            }
            _ => {}
        }
        let m = self.member.as_ref()?;
        auth::role_of(&accounts, self.who.as_ref(), &m.roster)
            .is_none()
            .then(|| {
                Ending(
                    close::FORBIDDEN,
                    format!("you no longer have a role on roster `{}`", m.roster),
                )
            })
    }
}
