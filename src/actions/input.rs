//! Validation of action requests: every field checked for type, size and
//! shape before a script runs, each message naming its field and never
//! repeating its value. Nothing here runs a script.

use serde_json::{Map, Value};

use super::{
    Action, Input, NewUser, Request, MAX_CONTEXT_BYTES, MAX_IDENTIFIER_CHARS, MAX_PASSWORD_CHARS,
};
use crate::error::{Error, Result};
use crate::metadata::{self, Which};

/// The fields of a request body, taken one by one so that every message
/// names its field and none repeats a value.
struct Fields(Map<String, Value>);

impl Fields {
    fn new(mut map: Map<String, Value>, allowed: &[&str]) -> Result<Self> {
        // Unknown even when null: a null means absent for a field there is.
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(Error::invalid_request(format!("unknown field `{unknown}`")));
        }
        // A null for an optional field means the field is absent.
        map.retain(|_, v| !v.is_null());
        Ok(Fields(map))
    }

    fn string(&mut self, name: &str) -> Result<Option<String>> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(Error::invalid_request(format!(
                "`{name}` must not be an empty string"
            ))),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Error::invalid_request(format!("`{name}` must be a string"))),
        }
    }

    fn required(&mut self, name: &str) -> Result<String> {
        self.string(name)?
            .ok_or_else(|| Error::invalid_request(format!("`{name}` is required")))
    }

    fn bool(&mut self, name: &str) -> Result<Option<bool>> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(Error::invalid_request(format!(
                "`{name}` must be true or false"
            ))),
        }
    }

    fn object(&mut self, name: &str) -> Result<Option<Map<String, Value>>> {
        match self.0.remove(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(Error::invalid_request(format!(
                "`{name}` must be an object"
            ))),
        }
    }
}

fn non_empty(name: &str, value: String) -> Result<String> {
    if value.is_empty() {
        return Err(Error::invalid_request(format!(
            "`{name}` must not be an empty string"
        )));
    }
    Ok(value)
}

fn max_chars(name: &str, value: &str, max: usize) -> Result<()> {
    if value.chars().count() > max {
        return Err(Error::invalid_request(format!(
            "`{name}` is at most {max} characters"
        )));
    }
    Ok(())
}

fn password(name: &str, value: String) -> Result<String> {
    max_chars(name, &value, MAX_PASSWORD_CHARS)?;
    // C-based hashers (crypt, PHP's bcrypt) stop at a NUL byte.
    if value.contains('\0') {
        return Err(Error::invalid_request(format!(
            "`{name}` must not contain a NUL character"
        )));
    }
    Ok(value)
}

/// An email, a username or an id: bounded, and no control characters.
fn identifier(name: &str, value: String) -> Result<String> {
    max_chars(name, &value, MAX_IDENTIFIER_CHARS)?;
    if value.chars().any(char::is_control) {
        return Err(Error::invalid_request(format!(
            "`{name}` must not contain control characters"
        )));
    }
    Ok(value)
}

fn email(name: &str, value: String) -> Result<String> {
    let value = identifier(name, value)?;
    match value.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(value),
        _ => Err(Error::invalid_request(format!(
            "`{name}` must be an email address (local@domain)"
        ))),
    }
}

fn context(value: Option<Value>) -> Result<Map<String, Value>> {
    let map = match value {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(Error::invalid_request(
                "`context` must be an object of strings",
            ))
        }
    };
    if let Some(key) = map.iter().find(|(_, v)| !v.is_string()).map(|(k, _)| k) {
        return Err(Error::invalid_request(format!(
            "`context.{key}` must be a string"
        )));
    }
    let size = Value::Object(map.clone()).to_string().len();
    if size > MAX_CONTEXT_BYTES {
        return Err(Error::invalid_request(format!(
            "`context` is at most {MAX_CONTEXT_BYTES} bytes of JSON, not {size}"
        )));
    }
    Ok(map)
}

/// Bytes of a profile kept, in the size check before a script runs, for
/// what the store adds to what the request gives: an eighth of
/// `max_profile_bytes`, from [`MIN_PROFILE_RESERVE`] (the fixed fields and
/// a short id) to this.
pub const PROFILE_RESERVE: usize = 256;
pub const MIN_PROFILE_RESERVE: usize = 96;

const PROFILE_FIELDS: [&str; 5] = ["username", "given_name", "family_name", "name", "nickname"];

impl Request {
    /// Parses and validates a JSON body for `action`.
    pub fn parse(action: Action, body: &[u8]) -> Result<Request> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Error::invalid_request(format!("malformed JSON: {e}")))?;
        let Value::Object(mut map) = value else {
            return Err(Error::invalid_request("the body must be a JSON object"));
        };
        let context = context(map.remove("context"))?;
        let input = match action {
            Action::Login => {
                let mut f = Fields::new(map, &["username_or_email", "password"])?;
                let username_or_email =
                    identifier("username_or_email", f.required("username_or_email")?)?;
                Input::Login {
                    username_or_email,
                    password: password("password", f.required("password")?)?,
                }
            }
            Action::Signup | Action::Create => Input::New(new_user(action, map)?),
            Action::GetUser | Action::Verify => {
                let mut f = Fields::new(map, &["email"])?;
                let e = email("email", f.required("email")?)?;
                if action == Action::GetUser {
                    Input::GetUser(e)
                } else {
                    Input::Verify(e)
                }
            }
            Action::ChangePassword => {
                let mut f = Fields::new(map, &["email", "new_password"])?;
                Input::ChangePassword {
                    email: email("email", f.required("email")?)?,
                    new_password: password("new_password", f.required("new_password")?)?,
                }
            }
            Action::ChangeEmail => {
                let mut f = Fields::new(map, &["email", "new_email", "email_verified"])?;
                Input::ChangeEmail {
                    email: email("email", f.required("email")?)?,
                    new_email: email("new_email", f.required("new_email")?)?,
                    email_verified: f
                        .bool("email_verified")?
                        .ok_or_else(|| Error::invalid_request("`email_verified` is required"))?,
                }
            }
            Action::Delete => {
                let mut f = Fields::new(map, &["user_id"])?;
                Input::Delete(identifier("user_id", f.required("user_id")?)?)
            }
            Action::UpdateMetadata => {
                let mut f = Fields::new(map, &["user_id", "user_metadata", "app_metadata"])?;
                let user_id = identifier("user_id", f.required("user_id")?)?;
                let user_metadata = f.object("user_metadata")?;
                let app_metadata = f.object("app_metadata")?;
                if user_metadata.is_none() && app_metadata.is_none() {
                    return Err(Error::invalid_request(
                        "give `user_metadata`, `app_metadata` or both",
                    ));
                }
                let checked = user_metadata
                    .as_ref()
                    .map_or(Ok(()), |m| metadata::check_names(m, Which::User))
                    .and_then(|()| {
                        app_metadata
                            .as_ref()
                            .map_or(Ok(()), metadata::check_app_metadata)
                    });
                checked.map_err(|e| masked(e, None))?;
                Input::UpdateMetadata {
                    user_id,
                    user_metadata,
                    app_metadata,
                }
            }
        };
        Ok(Request {
            action,
            input,
            context,
            time_limit: None,
        })
    }

    /// A login with its two values given apart (another identity server's
    /// protocol), held to the same rules as our own API's body.
    pub fn login(
        username_or_email: String,
        password: String,
        context: Map<String, Value>,
    ) -> Result<Request> {
        Self::login_named(
            ["username_or_email", "password"],
            username_or_email,
            password,
            context,
        )
    }

    /// [`Request::login`] for a platform whose body names the two fields
    /// otherwise (`identifier`, `loginId`...): its messages name them so.
    pub fn login_named(
        [user_field, password_field]: [&str; 2],
        username_or_email: String,
        password: String,
        context: Map<String, Value>,
    ) -> Result<Request> {
        Ok(Request {
            action: Action::Login,
            input: Input::Login {
                username_or_email: identifier(
                    user_field,
                    non_empty(user_field, username_or_email)?,
                )?,
                password: self::password(password_field, non_empty(password_field, password)?)?,
            },
            context,
            time_limit: None,
        })
    }

    /// A get_user by username or email (Keycloak's provider asks for
    /// either): an identifier, not necessarily an email address.
    pub fn lookup(
        field: &str,
        identifier_given: String,
        context: Map<String, Value>,
    ) -> Result<Request> {
        Ok(Request {
            action: Action::GetUser,
            input: Input::GetUser(identifier(field, non_empty(field, identifier_given)?)?),
            context,
            time_limit: None,
        })
    }

    /// Refuses a request whose own profile fields could not fit in a
    /// profile of `max_profile` bytes, before its script runs: otherwise the
    /// script would write them, and its answer (and every later login) be
    /// refused as too large. Sign-up's limits count characters, a profile
    /// bytes: ten values of 500 emoji take 20 KB.
    pub fn check_profile_size(&self, max_profile: usize) -> Result<()> {
        let json_len = |m: &Map<String, Value>| serde_json::to_vec(m).map_or(0, |v| v.len());
        let (what, size) = match &self.input {
            Input::New(user) => {
                let strings: usize = [("email", &user.email)]
                    .into_iter()
                    .chain(user.optional.iter().map(|(k, v)| (*k, v)))
                    .map(|(k, v)| k.len() + serde_json::to_string(v).map_or(0, |t| t.len()) + 4)
                    .sum();
                (
                    "the user's fields and metadata",
                    strings + json_len(&user.user_metadata) + json_len(&user.app_metadata),
                )
            }
            Input::UpdateMetadata {
                user_metadata,
                app_metadata,
                ..
            } => (
                "the metadata given",
                user_metadata.as_ref().map_or(0, json_len)
                    + app_metadata.as_ref().map_or(0, json_len),
            ),
            _ => return Ok(()),
        };
        // Every profile also holds `user_id`, `email_verified` and both
        // metadata objects' names, about 71 bytes and the id, and a script
        // may add a field or two the request did not give: the check keeps
        // room for them, so that a user it lets through can be answered.
        let size = size + (max_profile / 8).clamp(MIN_PROFILE_RESERVE, PROFILE_RESERVE);
        if size > max_profile {
            return Err(Error::invalid_request(format!(
                "{what} take {size} bytes as JSON, more than a profile may hold \
                 (max_profile_bytes: {max_profile})"
            )));
        }
        Ok(())
    }

    /// Values the log must never show: the request's passwords.
    pub fn secrets(&self) -> Vec<String> {
        match &self.input {
            Input::Login { password, .. } => vec![password.clone()],
            Input::New(user) => vec![user.password.clone()],
            Input::ChangePassword { new_password, .. } => vec![new_password.clone()],
            _ => Vec::new(),
        }
    }
}

/// A metadata rule's message names the property, which the caller chose:
/// masked like every answer, so that it never carries the request's
/// password or a value shaped as a password hash.
fn masked(e: Error, password: Option<&str>) -> Error {
    let masker = crate::script::call::Masker::new(password.map(str::to_string));
    let mask = |m: String| masker.mask_with_hashes(&m);
    match e {
        Error::InvalidUserMetadata(m) => Error::InvalidUserMetadata(mask(m)),
        Error::InvalidAppMetadata(m) => Error::InvalidAppMetadata(mask(m)),
        Error::InvalidRequest(m) => Error::InvalidRequest(mask(m)),
        e => e,
    }
}

fn new_user(action: Action, mut map: Map<String, Value>) -> Result<NewUser> {
    if action == Action::Signup {
        // `null` is absent, as for every optional field
        if map.get("app_metadata").is_some_and(Value::is_null) {
            map.remove("app_metadata");
        }
        if map.contains_key("app_metadata") {
            return Err(Error::invalid_request(
                "`app_metadata` cannot be set at sign-up; an administrator sets it with create",
            ));
        }
    }
    let mut allowed = vec!["email", "password", "picture", "user_metadata"];
    allowed.extend(PROFILE_FIELDS);
    if action == Action::Create {
        allowed.extend(["email_verified", "phone_number", "app_metadata"]);
    }
    let mut f = Fields::new(map, &allowed)?;
    let email = email("email", f.required("email")?)?;
    let password = password("password", f.required("password")?)?;
    let mut optional = Vec::new();
    for name in PROFILE_FIELDS
        .into_iter()
        .chain(["picture", "phone_number"])
    {
        if let Some(v) = f.string(name)? {
            let v = if name == "username" {
                identifier(name, v)?
            } else {
                v
            };
            optional.push((name, v));
        }
    }
    let user_metadata = f.object("user_metadata")?.unwrap_or_default();
    let app_metadata = f.object("app_metadata")?.unwrap_or_default();
    let checked = if action == Action::Signup {
        metadata::check_signup_user_metadata(&user_metadata)
    } else {
        metadata::check_names(&user_metadata, Which::User)
            .and_then(|()| metadata::check_app_metadata(&app_metadata))
    };
    checked.map_err(|e| masked(e, Some(&password)))?;
    Ok(NewUser {
        email,
        password,
        email_verified: f.bool("email_verified")?.unwrap_or(false),
        optional,
        user_metadata,
        app_metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(action: Action, body: Value) -> Result<Request> {
        Request::parse(action, body.to_string().as_bytes())
    }

    fn message(r: Result<Request>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.code(), "invalid_request", "{e}");
        e.to_string()
    }

    #[test]
    fn signup_takes_a_null_app_metadata_as_absent() {
        let body = |app: Value| json!({"email": "a@b.c", "password": "pw", "app_metadata": app});
        assert!(parse(Action::Signup, body(Value::Null)).is_ok());
        assert!(message(parse(Action::Signup, body(json!({})))).contains("sign-up"));
    }

    #[test]
    fn login_fields() {
        assert!(parse(
            Action::Login,
            json!({"username_or_email": "jane", "password": "pw"})
        )
        .is_ok());
        let m = message(parse(
            Action::Login,
            json!({"username_or_email": "jane", "password": "pw", "extra": 1}),
        ));
        assert!(m.contains("`extra`"), "{m}");
        // unknown even as null; a known optional field as null is absent
        let m = message(parse(
            Action::Login,
            json!({"username_or_email": "jane", "password": "pw", "extra": null}),
        ));
        assert!(m.contains("`extra`"), "{m}");
        assert!(parse(
            Action::Create,
            json!({"email": "a@b.c", "password": "pw", "nickname": null}),
        )
        .is_ok());
        let m = message(parse(Action::Login, json!({"username_or_email": "jane"})));
        assert!(m.contains("`password` is required"), "{m}");
        let m = message(parse(
            Action::Login,
            json!({"username_or_email": "jane", "password": 12345}),
        ));
        assert!(
            m.contains("`password` must be a string") && !m.contains("12345"),
            "{m}"
        );
        let m = message(parse(
            Action::Login,
            json!({"username_or_email": "", "password": "x"}),
        ));
        assert!(m.contains("empty"), "{m}");
        // null means absent
        let m = message(parse(
            Action::Login,
            json!({"username_or_email": null, "password": "x"}),
        ));
        assert!(m.contains("required"), "{m}");
    }

    #[test]
    fn lengths_in_characters() {
        let ok = |pw: String| {
            parse(
                Action::Login,
                json!({"username_or_email": "j", "password": pw}),
            )
        };
        assert!(ok("é".repeat(1024)).is_ok());
        assert!(ok("é".repeat(1025)).is_err());
        let mail = |local: usize| format!("{}@x.io", "a".repeat(local));
        assert!(parse(Action::GetUser, json!({"email": mail(315)})).is_ok());
        assert!(parse(Action::GetUser, json!({"email": mail(316)})).is_err());
    }

    #[test]
    fn control_characters_in_identifiers_and_nul_in_passwords() {
        for (action, body) in [
            (
                Action::Login,
                json!({"username_or_email": "ja\nne", "password": "x"}),
            ),
            (
                Action::Login,
                json!({"username_or_email": "jane", "password": "x\u{0}y"}),
            ),
            (Action::GetUser, json!({"email": "a\u{0}@b"})),
            (
                Action::Signup,
                json!({"email": "a@b", "password": "x", "username": "bob\u{7}"}),
            ),
            (Action::Delete, json!({"user_id": "1\r"})),
            (
                Action::ChangeEmail,
                json!({"email": "a@b", "new_email": "c\t@d", "email_verified": true}),
            ),
        ] {
            let m = message(parse(action, body.clone()));
            assert!(
                m.contains("control characters") || m.contains("NUL"),
                "{body}: {m}"
            );
        }
        // other control characters are a password's own business
        assert!(parse(
            Action::Login,
            json!({"username_or_email": "jane", "password": "tab\there"})
        )
        .is_ok());
    }

    #[test]
    fn email_shape() {
        for bad in ["jane", "@x.io", "jane@", "@"] {
            let m = message(parse(Action::GetUser, json!({ "email": bad })));
            assert!(m.contains("local@domain"), "{m}");
        }
        assert!(parse(Action::GetUser, json!({"email": "a@b"})).is_ok());
    }

    #[test]
    fn context_is_an_object_of_strings_up_to_2_kib() {
        let base = json!({"email": "a@b"});
        let with = |c: Value| {
            let mut b = base.clone();
            b["context"] = c;
            parse(Action::GetUser, b)
        };
        let r = with(json!({"ip": "1.2.3.4"})).unwrap();
        assert_eq!(r.context["ip"], "1.2.3.4");
        assert!(with(json!({"ip": 1})).is_err());
        assert!(with(json!("x")).is_err());
        assert!(with(json!({"k": "v".repeat(2041)})).is_err());
        assert!(with(Value::Null).unwrap().context.is_empty());
    }

    #[test]
    fn signup_refuses_app_metadata_and_create_fields() {
        let body = json!({"email": "a@b", "password": "pw", "app_metadata": {"plan": "x"}});
        let m = message(parse(Action::Signup, body.clone()));
        assert!(m.contains("app_metadata"), "{m}");
        assert!(parse(Action::Create, body).is_ok());
        let m = message(parse(
            Action::Signup,
            json!({"email": "a@b", "password": "pw", "email_verified": true}),
        ));
        assert!(m.contains("email_verified"), "{m}");
    }

    #[test]
    fn metadata_rules_by_action() {
        let too_many: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        let e = parse(
            Action::Signup,
            json!({"email": "a@b", "password": "pw", "user_metadata": too_many.clone()}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_user_metadata");
        // create does not apply signup's limits
        assert!(parse(
            Action::Create,
            json!({"email": "a@b", "password": "pw", "user_metadata": too_many})
        )
        .is_ok());
        let e = parse(
            Action::Create,
            json!({"email": "a@b", "password": "pw", "app_metadata": {"blocked": true}}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_app_metadata");
        let e = parse(
            Action::UpdateMetadata,
            json!({"user_id": "1", "user_metadata": {"a.b": 1}}),
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_user_metadata");
        let m = message(parse(Action::UpdateMetadata, json!({"user_id": "1"})));
        assert!(m.contains("user_metadata"), "{m}");
        // a rule's message names the property, masked like every answer
        let bcrypt = "$2b$10$Wa/Qas3cAcaRpNxqgBnwees/dvqAswyPiG0rMzqLZnyLqAuWj/gWK";
        let e = parse(
            Action::Signup,
            json!({"email": "a@b", "password": "MyLongPassword99",
                   "user_metadata": {"MyLongPassword99.x": "v"}}),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "user_metadata.[redacted].x: a property name must not contain `.`"
        );
        let e = parse(
            Action::UpdateMetadata,
            json!({"user_id": "1", "user_metadata": {"a": {bcrypt: 1, "b.c": 2}}}),
        )
        .unwrap_err();
        assert!(!e.to_string().contains("Wa/Qas3c"), "{e}");
    }

    #[test]
    fn secrets_are_the_passwords() {
        let r = parse(
            Action::Login,
            json!({"username_or_email": "j", "password": "pw1"}),
        )
        .unwrap();
        assert_eq!(r.secrets(), ["pw1"]);
        let r = parse(
            Action::ChangePassword,
            json!({"email": "a@b", "new_password": "pw2"}),
        )
        .unwrap();
        assert_eq!(r.secrets(), ["pw2"]);
    }

    #[test]
    fn malformed_json() {
        for body in [&b"{"[..], b"[1]", b"\xff\xfe", b"", b"null"] {
            let e = Request::parse(Action::Login, body).unwrap_err();
            assert_eq!(e.code(), "invalid_request");
        }
    }
}
