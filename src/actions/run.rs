//! Running an action: the script it calls, with the arguments scripts
//! receive, and what its result means. One function per action; what a
//! profile-returning script may answer is decided in one place
//! (`Run::user_profile`).

use rhai::{Dynamic, Map as RhaiMap};
use serde_json::{Map, Value};

use super::{Input, NewUser, Outcome, Request};
use crate::error::{Error, Result};
use crate::profile::{self, Profile, ProfileError};
use crate::script::call::InCall;
use crate::script::ScriptSet;
use crate::telemetry::OneLine;

impl Request {
    /// Runs the action's script(s) in the script call `call`.
    pub fn run(
        self,
        call: &InCall,
        scripts: &ScriptSet,
        connection: &str,
        max_profile_bytes: usize,
    ) -> Result<Outcome> {
        let run = Run {
            call,
            scripts,
            max_profile_bytes,
        };
        match self.input {
            Input::Login {
                username_or_email,
                password,
            } => run.login(username_or_email, password),
            Input::New(user) => run.create(user, connection),
            Input::GetUser(email) => run.get_user(email),
            Input::Verify(email) => run.verify(email),
            Input::ChangePassword {
                email,
                new_password,
            } => run.change_password(email, new_password),
            Input::ChangeEmail {
                email,
                new_email,
                email_verified,
            } => run.change_email(email, new_email, email_verified),
            Input::Delete(user_id) => run.delete(user_id),
            Input::UpdateMetadata {
                user_id,
                user_metadata,
                app_metadata,
            } => run.update_metadata(user_id, user_metadata, app_metadata),
        }
    }
}

/// What every action's run needs.
struct Run<'a> {
    call: &'a InCall,
    scripts: &'a ScriptSet,
    max_profile_bytes: usize,
}

/// What a script that answers a user may return besides a profile map.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Otherwise {
    /// Nothing: the script must throw instead (login).
    Throw,
    /// `()`, meaning that there is no such user.
    NotFound,
}

impl Run<'_> {
    fn script(&self, name: &str, args: impl rhai::FuncArgs) -> Result<Dynamic> {
        self.scripts.call(self.call, name, args)
    }

    /// The profile a script answered, normalized; `()` is 404 where the
    /// script may answer it; anything else is an invalid profile.
    fn user_profile(&self, result: Dynamic, script: &str, otherwise: Otherwise) -> Result<Profile> {
        if result.is_unit() && otherwise == Otherwise::NotFound {
            return Err(Error::UserNotFound);
        }
        if !result.is_map() {
            let rule = match otherwise {
                Otherwise::Throw => format!("a {script} must return a profile map or throw"),
                Otherwise::NotFound => format!("{script} must return a profile map or ()"),
            };
            return Err(not_a_profile(script, &rule));
        }
        to_profile(result, script, self.max_profile_bytes)
    }

    fn login(&self, username_or_email: String, password: String) -> Result<Outcome> {
        let result = self.script("login", (username_or_email, password))?;
        Ok(Outcome::User(self.user_profile(
            result,
            "login",
            Otherwise::Throw,
        )?))
    }

    /// signup and create: `create` may answer the profile, the new id (the
    /// profile is then what was asked for), or `()` (the profile is then
    /// read back with get_user).
    fn create(&self, user: NewUser, connection: &str) -> Result<Outcome> {
        let email = user.email.clone();
        let result = self.script("create", (user.script_map(connection)?,))?;
        let profile = if result.is_map() {
            to_profile(result, "create", self.max_profile_bytes)?
        } else if result.is_int() || result.is_string() {
            to_profile(
                Dynamic::from_map(user.answer_map(result)?),
                "create",
                self.max_profile_bytes,
            )?
        } else if result.is_unit() {
            if !self.scripts.has("get_user") {
                return Err(Error::Script(
                    "create returned () and there is no get_user script to read the user back"
                        .into(),
                ));
            }
            let read = self.script("get_user", (email,))?;
            if !read.is_map() {
                return Err(Error::Script(
                    "create returned () and get_user did not find the new user".into(),
                ));
            }
            to_profile(read, "get_user", self.max_profile_bytes)?
        } else {
            return Err(not_a_profile(
                "create",
                "create must return a profile map, the new user's id, or ()",
            ));
        };
        Ok(Outcome::Created(profile))
    }

    fn get_user(&self, email: String) -> Result<Outcome> {
        let result = self.script("get_user", (email,))?;
        Ok(Outcome::User(self.user_profile(
            result,
            "get_user",
            Otherwise::NotFound,
        )?))
    }

    fn verify(&self, email: String) -> Result<Outcome> {
        flag(self.script("verify", (email,))?, "verify", false)?;
        Ok(Outcome::Verified)
    }

    fn change_password(&self, email: String, new_password: String) -> Result<Outcome> {
        let result = self.script("change_password", (email, new_password))?;
        if !result.is_map() {
            flag(result, "change_password", false)?;
        }
        Ok(Outcome::Changed)
    }

    fn change_email(&self, email: String, new_email: String, verified: bool) -> Result<Outcome> {
        let result = self.script("change_email", (email, new_email, verified))?;
        flag(result, "change_email", false)?;
        Ok(Outcome::Changed)
    }

    fn delete(&self, user_id: String) -> Result<Outcome> {
        flag(self.script("delete", (user_id,))?, "delete", true)?;
        Ok(Outcome::Deleted)
    }

    fn update_metadata(
        &self,
        user_id: String,
        user_metadata: Option<Map<String, Value>>,
        app_metadata: Option<Map<String, Value>>,
    ) -> Result<Outcome> {
        let mut patch = RhaiMap::new();
        if let Some(m) = user_metadata {
            patch.insert("user_metadata".into(), to_dynamic(m)?);
        }
        if let Some(m) = app_metadata {
            // The legacy name scripts know it by.
            patch.insert("metadata".into(), to_dynamic(m)?);
        }
        let result = self.script("update_metadata", (user_id, patch))?;
        Ok(Outcome::User(self.user_profile(
            result,
            "update_metadata",
            Otherwise::NotFound,
        )?))
    }
}

impl NewUser {
    /// The `user` map `create(user)` receives (docs/scripts.md).
    fn script_map(&self, connection: &str) -> Result<RhaiMap> {
        let mut m = RhaiMap::new();
        m.insert("email".into(), self.email.clone().into());
        m.insert("password".into(), self.password.clone().into());
        m.insert("email_verified".into(), self.email_verified.into());
        for (k, v) in &self.optional {
            m.insert((*k).into(), v.clone().into());
        }
        m.insert(
            "user_metadata".into(),
            to_dynamic(self.user_metadata.clone())?,
        );
        m.insert("metadata".into(), to_dynamic(self.app_metadata.clone())?);
        m.insert("connection".into(), connection.into());
        Ok(m)
    }

    /// The profile answered when `create` returns only the new id.
    fn answer_map(&self, id: Dynamic) -> Result<RhaiMap> {
        let mut m = self.script_map("")?;
        m.remove("password");
        m.remove("connection");
        m.insert("user_id".into(), id);
        Ok(m)
    }
}

fn to_dynamic(map: Map<String, Value>) -> Result<Dynamic> {
    rhai::serde::to_dynamic(Value::Object(map))
        .map_err(|e| Error::Script(format!("metadata has no script form: {e}")))
}

fn not_a_profile(script: &str, rule: &str) -> Error {
    Error::InvalidProfile(ProfileError {
        field: format!("{script} result"),
        rule: rule.into(),
    })
}

fn to_profile(value: Dynamic, script: &str, max_bytes: usize) -> Result<Profile> {
    let map = value
        .try_cast::<RhaiMap>()
        .ok_or_else(|| not_a_profile(script, "must be a map"))?;
    if let Some(kind) = crate::script::errors::constructed(&map) {
        return Err(not_a_profile(
            script,
            &format!("is a {kind}(...) returned, not thrown: write `throw {kind}(...)`"),
        ));
    }
    let mut dropped = Vec::new();
    let result = profile::normalize(map, max_bytes, &mut dropped);
    // A place's name is made of the script's keys, which may be a secret or
    // a legacy column's hash: masked, in the log and in the caller's answer.
    let mask = crate::script::call::mask_with_hashes;
    for d in &dropped {
        let field = mask(&d.field);
        tracing::warn!(script, field = %OneLine(&field), reason = d.reason, "field left out of the profile");
    }
    result.map_err(|e| {
        let e = ProfileError {
            field: mask(&e.field),
            rule: mask(&e.rule),
        };
        tracing::error!(script, field = %OneLine(&e.field), rule = %OneLine(&e.rule), "the script's result is not a valid profile");
        Error::InvalidProfile(e)
    })
}

/// `true` is done, `false` is 404; `()` counts as done where `unit_ok`.
fn flag(value: Dynamic, script: &str, unit_ok: bool) -> Result<()> {
    if value.is_unit() && unit_ok {
        return Ok(());
    }
    match value.as_bool() {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::UserNotFound),
        Err(_) => Err(Error::Script(format!(
            "{script} must return true or false{}, not {}",
            if unit_ok { " or ()" } else { "" },
            value.type_name()
        ))),
    }
}
