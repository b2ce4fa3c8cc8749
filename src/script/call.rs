//! The state of the script call running on this thread now: its store
//! session, deadline, request context and the secrets to mask. Rhai's native
//! functions are registered once per engine, so they find the call they serve
//! here. Each call runs as a fiber ([`super::fiber`]); several share a thread,
//! so a call's state is in the thread's slot only while its fiber runs, and
//! is kept by the task that drives it while the fiber is suspended.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::Map as RhaiMap;

use super::fiber::Fiber;
use crate::store::Session;

/// Hides secrets in text that leaves the process (log lines, messages to
/// the caller), and nothing else: a secret of [`WHOLE_TEXT_CHARS`] or more
/// is replaced wherever it appears, a shorter one only where it stands as a
/// whole token, so that the password `o` does not turn "Your account" into
/// "Y[redacted]ur acc[redacted]unt" (and so give away what it is made of).
#[derive(Debug, Clone, Default)]
pub struct Masker {
    /// The connection's secret configuration values, in each of their
    /// [`forms`]: made once per connection, shared by every call.
    configured: Arc<[String]>,
    /// The request's passwords, in each of their forms.
    request: Vec<String>,
    /// Whether password hashes are hidden too, by their shape (`export`:
    /// no hash leaves the output files).
    hashes: bool,
    /// Whether what the script itself prints or throws is left out whole
    /// (`export`: a salt, an HMAC key or a hex digest has no shape to find).
    withhold: bool,
}

/// Secrets at least this many characters long are masked wherever they
/// appear; shorter ones only as whole tokens.
pub const WHOLE_TEXT_CHARS: usize = 8;

const REDACTED: &str = "[redacted]";

/// The forms a secret takes in text: as it is, and escaped as a debug print
/// writes a string (`debug`, a printed map or array, a thrown value, a
/// failure's cause) and as JSON does (`json::stringify`), once or twice,
/// in either order.
/// A password such as `tab<TAB>pw"` is `tab\tpw\"` in all of those.
fn forms(secrets: impl IntoIterator<Item = String>) -> Vec<String> {
    let debug = |s: &str| {
        let quoted = format!("{s:?}");
        quoted[1..quoted.len() - 1].to_string()
    };
    let json = |s: &str| {
        let quoted = serde_json::Value::from(s).to_string();
        quoted[1..quoted.len() - 1].to_string()
    };
    let mut out = Vec::new();
    for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
        let (d, j) = (debug(&secret), json(&secret));
        out.extend([debug(&d), json(&j), json(&d), debug(&j), d, j, secret]);
    }
    out.sort();
    out.dedup();
    out
}

impl Masker {
    /// A masker for the connection's secret configuration values.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Masker {
            configured: forms(secrets).into(),
            request: Vec::new(),
            hashes: false,
            withhold: false,
        }
    }

    /// The same masker, also hiding every value shaped as a password hash
    /// that `password::verify` knows (not a bare hex digest: it looks like
    /// any id).
    pub fn hiding_hashes(&self) -> Self {
        Masker {
            hashes: true,
            ..self.clone()
        }
    }

    /// The masker of `export`'s pages: hashes hidden by their shape, and
    /// what the script prints or throws left out whole. The export's spec
    /// keeps every hash, salt, HMAC key and descriptor value out of
    /// standard error, and only a hash has a shape to find.
    pub fn exporting(&self) -> Self {
        Masker {
            hashes: true,
            withhold: true,
            ..self.clone()
        }
    }

    /// Whether what the script prints or throws is left out whole.
    pub fn withholds(&self) -> bool {
        self.withhold
    }

    /// The same masker, also hiding the request's own secrets.
    pub fn with_request(&self, secrets: impl IntoIterator<Item = String>) -> Self {
        Masker {
            configured: self.configured.clone(),
            request: forms(secrets),
            hashes: self.hashes,
            withhold: self.withhold,
        }
    }

    /// Every secret, in each of its forms: the configured ones, then the
    /// request's.
    fn secrets(&self) -> impl Iterator<Item = &String> {
        self.configured.iter().chain(&self.request)
    }

    /// Whether `text` is, whole, one of the secrets, of any length.
    pub fn is_any_secret(&self, text: &str) -> bool {
        self.secrets().any(|s| s == text)
    }

    /// See [`holds_secret`].
    pub fn holds_secret(&self, text: &str) -> bool {
        text.len() >= WHOLE_TEXT_CHARS
            && self
                .secrets()
                .any(|s| s.chars().count() >= WHOLE_TEXT_CHARS && text.contains(s.as_str()))
    }

    pub fn mask(&self, text: &str) -> String {
        self.redacted(text, false)
    }

    /// [`Masker::mask`], also hiding values shaped as password hashes, for
    /// text the host builds from what a script returned (the name of a
    /// field left out of a profile may be a legacy column's hash).
    pub fn mask_with_hashes(&self, text: &str) -> String {
        self.redacted(text, true)
    }

    /// `text` masked; with `hashes`, hashes hidden even by a masker that
    /// does not hide them everywhere.
    fn redacted(&self, text: &str, hashes: bool) -> String {
        let mut spans = self.spans(text);
        if hashes && !self.hashes {
            spans.extend(hash_spans(text));
        }
        if spans.is_empty() {
            return text.to_string();
        }
        redact(text, spans)
    }

    /// Where the secrets stand in `text`, as byte ranges.
    fn spans(&self, text: &str) -> Vec<(usize, usize)> {
        // Where each secret stands, found in the original text, so that a
        // replacement never creates or hides a match of another secret.
        // Long secrets first: the edge of one is a token boundary for a
        // short one, which would otherwise show beside `[redacted]`.
        let (long, short): (Vec<&String>, Vec<&String>) = self
            .secrets()
            .partition(|s| s.chars().count() >= WHOLE_TEXT_CHARS);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for secret in long {
            spans.extend(places(text, secret));
        }
        let long_spans = spans.len();
        for secret in short {
            let edge = |at: usize| spans[..long_spans].iter().any(|&(s, e)| s == at || e == at);
            // A whole token; and a secret of one character, whole
            // characters as the reader sees them: the password `e` is not
            // the start of an `e` and a combining accent (`e\u{301}`, an é
            // written in two code points). A longer one is masked even so.
            let single = secret.chars().count() == 1;
            // A debug print writes such an accent as `\u{301}`: the same.
            let tokens: Vec<(usize, usize)> = places(text, secret)
                .filter(|&(start, end)| {
                    (edge(start) || !alphanumeric_before(text, past_escapes(text, start)))
                        && (edge(end) || !alphanumeric_after(text, end))
                        && (!single
                            || grapheme_boundary(text, start)
                                && grapheme_boundary(text, end)
                                && !text[end..].starts_with("\\u{"))
                })
                .collect();
            spans.extend(tokens);
        }
        if self.hashes {
            spans.extend(hash_spans(text));
        }
        spans
    }
}

/// Where values shaped as password hashes stand in `text`: from each place
/// a known form's prefix starts (`$2y$`, `$argon2`, `pbkdf2_sha`, `{`...),
/// a candidate of at least 20 characters that
/// `password::detect` knows: the width of a fixed-width form (bcrypt,
/// phpass, Drupal), or the run of characters hashes are written in, ended
/// where its last `$`-segment meets a `,`, or at the run's end (a braced
/// value, such as `{noop}` and its plain password, may be shorter). So
/// `hash=$2y$…`, `7,$2y$…`, `{h: $2y$…}` and `id=7&hash=$argon2id$…,x=1`
/// all find the hash and only the hash. At most 2,048 bytes are
/// looked at from each place a prefix starts.
fn hash_spans(text: &str) -> Vec<(usize, usize)> {
    /// Longer than any hash the verifier takes in one piece; it bounds the
    /// work at each place a prefix starts.
    const LONGEST: usize = 2048;
    let in_hash = |b: u8| b.is_ascii_alphanumeric() || b"./+=$,-_".contains(&b);
    let bytes = text.as_bytes();
    // where the run of hash characters from each byte ends
    let mut run_end = vec![bytes.len() as u32; bytes.len() + 1];
    for j in (0..bytes.len()).rev() {
        run_end[j] = if in_hash(bytes[j]) {
            run_end[j + 1]
        } else {
            j as u32
        };
    }
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !crate::password::FORM_PREFIXES
            .iter()
            .any(|p| bytes[i..].starts_with(p.as_bytes()))
        {
            i += 1;
            continue;
        }
        // a braced name first (`{SSHA}`, within 34 bytes), then the hash's
        // own characters
        let body = if bytes[i] == b'{' {
            let window = &bytes[i..bytes.len().min(i + 34)];
            match window.iter().position(|&b| b == b'}') {
                Some(close) => i + close + 1,
                None => {
                    i += 1;
                    continue;
                }
            }
        } else {
            i
        };
        let run = (run_end[body] as usize).max(body).min(i + LONGEST);
        let piece = &bytes[i..run];
        let last_dollar = piece.iter().rposition(|&b| b == b'$');
        if last_dollar.is_none() && body == i {
            // every unbraced form has a `$`: none starts in this stretch
            i = run.max(i + 1);
            continue;
        }
        let last_segment = last_dollar.map_or(body - i, |d| d + 1);
        let cut = piece[last_segment..]
            .iter()
            .position(|&b| b == b',')
            .map_or(run, |at| i + last_segment + at);
        let trim = |end: usize| i + text[i..end].trim_end_matches(['.', ',']).len();
        let found = [trim(cut), cut, trim(run), run, i + 60, i + 55, i + 34]
            .into_iter()
            // a braced value may be short (`{noop}` and its plain password)
            .filter(|&end| end <= run && (body > i || end >= i + 20))
            .find(|&end| {
                text.get(i..end)
                    .is_some_and(|v| crate::password::detect(v).is_some())
            });
        match found {
            Some(end) => {
                spans.push((i, end));
                i = end;
            }
            None => i += 1,
        }
    }
    spans
}

/// `text` with each of `spans` replaced by `[redacted]`.
fn redact(text: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut written = 0;
    let mut spans = spans.into_iter().peekable();
    while let Some((start, mut end)) = spans.next() {
        // Overlapping or touching secrets become one `[redacted]`.
        while let Some(&(next_start, next_end)) = spans.peek() {
            if next_start > end {
                break;
            }
            end = end.max(next_end);
            spans.next();
        }
        out.push_str(&text[written..start]);
        out.push_str(REDACTED);
        written = end;
    }
    out.push_str(&text[written..]);
    out
}

/// Every place `secret` stands in `text`, overlapping ones too, as byte
/// ranges.
fn places<'t>(text: &'t str, secret: &'t str) -> impl Iterator<Item = (usize, usize)> + 't {
    let mut from = 0;
    std::iter::from_fn(move || {
        let start = from + text.get(from..)?.find(secret)?;
        // Step one character on, so that overlapping places count too.
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        Some((start, start + secret.len()))
    })
}

/// Whether a letter or digit stands just before byte `at`: the character
/// as the reader sees it, so that the accent of `e\u{301}` counts as its
/// letter.
fn alphanumeric_before(text: &str, at: usize) -> bool {
    use unicode_segmentation::UnicodeSegmentation;
    text[..at]
        .graphemes(true)
        .next_back()
        .and_then(|g| g.chars().next())
        .is_some_and(char::is_alphanumeric)
}

/// Byte `at`, moved back over the `\u{…}` escapes that end just before it
/// (a debug print writes a combining accent so).
fn past_escapes(text: &str, mut at: usize) -> usize {
    // `\u{10ffff}` is the longest: only the bytes just before are looked at
    let tail = |at: usize| (at.saturating_sub(11)..=at).find(|&k| text.is_char_boundary(k));
    while let Some(start) = tail(at).and_then(|from| {
        text[from..at]
            .strip_suffix('}')
            .and_then(|b| b.rfind("\\u{"))
            .map(|s| from + s)
    }) {
        let inner = &text[start + 3..at - 1];
        if inner.is_empty() || inner.len() > 6 || !inner.chars().all(|c| c.is_ascii_hexdigit()) {
            break;
        }
        at = start;
    }
    at
}

/// Whether a letter or digit stands just after byte `at`.
fn alphanumeric_after(text: &str, at: usize) -> bool {
    text[at..].chars().next().is_some_and(char::is_alphanumeric)
}

/// Whether byte `at` of `text` is between two characters as a reader sees
/// them (extended grapheme clusters), not inside one.
fn grapheme_boundary(text: &str, at: usize) -> bool {
    unicode_segmentation::GraphemeCursor::new(at, text.len(), true)
        .is_boundary(text, 0)
        .unwrap_or(true)
}

pub struct CallState {
    /// The call's store session; out of the state (`None`) while one of its
    /// statements runs, since that suspends the call.
    pub session: Option<Session>,
    pub context: RhaiMap,
    pub masker: Masker,
    /// How long the call's password verifications took, each counted from
    /// when its work began (not its wait for the hash gate): a login that
    /// fails having spent less than half a dummy verification's time
    /// verifies the dummy hash too, so that its time tells neither whether
    /// the user exists nor that the user's hash is a fast legacy one.
    pub verifying: Duration,
    /// When the call must end: checked as the script runs, and the limit
    /// of every wait.
    pub deadline: Instant,
    /// The modules the call imported, each once.
    pub modules: Vec<String>,
    /// The modules being compiled for the call, outermost first (its own:
    /// other calls' fibers share the thread).
    pub compiling: Vec<String>,
    /// The last error text a host function raised in the call: under
    /// `export`, a failure that is that text is the host's and is shown,
    /// while a value the script threw is left out.
    pub host_error: Option<String>,
}

thread_local! {
    static CALL: RefCell<Option<CallState>> = const { RefCell::new(None) };
    /// The running call's deadline, apart from its state so that the
    /// progress check costs no borrow.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Proof that code runs inside a script call: on the call's fiber, with
/// its state in this thread's slot. Only [`run`] makes one and lends it to
/// its body; it cannot leave the thread. What needs a running call (running
/// a script: [`super::ScriptSet::call`]) asks for it, so the rule is the
/// compiler's to check.
pub struct InCall {
    _on_this_thread: std::marker::PhantomData<*const ()>,
}

/// Runs `body` as a fiber on this thread with `state` as its call state,
/// and hands the state back afterwards. Waits inside `body` are given up
/// a little after the deadline (each is bounded by it already).
pub async fn run<R: 'static>(
    state: CallState,
    body: impl FnOnce(&InCall) -> R + 'static,
) -> std::io::Result<(R, CallState)> {
    let give_up = state.deadline + GRACE;
    let fiber = Fiber::new(move || {
        body(&InCall {
            _on_this_thread: std::marker::PhantomData,
        })
    })?;
    let mut kept = Some(state);
    let out = fiber
        .run(give_up, |entering| {
            if entering {
                if let Some(state) = kept.take() {
                    DEADLINE.with(|d| d.set(Some(state.deadline)));
                    CALL.with(|c| *c.borrow_mut() = Some(state));
                }
            } else {
                DEADLINE.with(|d| d.set(None));
                kept = CALL.with(|c| c.borrow_mut().take());
            }
        })
        .await;
    match kept {
        Some(state) => Ok((out, state)),
        None => Err(std::io::Error::other("the call's state was lost")),
    }
}

/// A deadline of `limit` from now for what runs outside a call until the
/// guard is dropped (a module's top level, evaluated at load: one that
/// loops stops there instead of holding the start or the reload for ever).
/// Inside a call the call's own deadline stands.
pub fn load_deadline(limit: Duration) -> LoadDeadline {
    let set = DEADLINE.with(|d| {
        d.get()
            .is_none()
            .then(|| d.set(Some(Instant::now() + limit)))
    });
    LoadDeadline { set: set.is_some() }
}

/// See [`load_deadline`]; dropping it (a panic included) clears the
/// deadline it set.
pub struct LoadDeadline {
    set: bool,
}

impl Drop for LoadDeadline {
    fn drop(&mut self) {
        if self.set {
            DEADLINE.with(|d| d.set(None));
        }
    }
}

/// How long past its deadline a call's wait is given up for good.
const GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `f` on the current call's state; `None` outside a call (as when
/// scripts are checked at load).
pub fn current<R>(f: impl FnOnce(&mut CallState) -> R) -> Option<R> {
    CALL.with(|c| c.borrow_mut().as_mut().map(f))
}

thread_local! {
    /// The modules being compiled on this thread outside any call (at load).
    static LOADING: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on the stack of modules being compiled: the current call's, or
/// the thread's outside a call.
pub fn with_compiling<R>(f: impl FnOnce(&mut Vec<String>) -> R) -> R {
    CALL.with(|c| match c.borrow_mut().as_mut() {
        Some(state) => f(&mut state.compiling),
        None => LOADING.with(|l| f(&mut l.borrow_mut())),
    })
}

/// Whether the current call may import `module`: one it imported already,
/// or a new one within `max` distinct modules (always outside a call, as
/// at load).
pub fn may_import(module: &str, max: usize) -> bool {
    current(|c| c.modules.iter().any(|m| m == module) || c.modules.len() < max).unwrap_or(true)
}

/// Counts `module`, once resolved, among the current call's imports.
pub fn note_import(module: &str) {
    current(|c| {
        if !c.modules.iter().any(|m| m == module) {
            c.modules.push(module.to_string());
        }
    });
}

/// The current call's deadline, if a call is running.
pub fn deadline() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}

/// Has the current call run past its deadline?
pub fn past_deadline() -> bool {
    DEADLINE.with(|d| d.get().is_some_and(|t| Instant::now() >= t))
}

/// Masks `text` with the current call's secrets.
pub fn mask(text: &str) -> String {
    current(|c| c.masker.mask(text)).unwrap_or_else(|| text.to_string())
}

/// Masks `text` with the current call's secrets and hides values shaped as
/// password hashes (see [`Masker::mask_with_hashes`]).
pub fn mask_with_hashes(text: &str) -> String {
    current(|c| c.masker.mask_with_hashes(text))
        .unwrap_or_else(|| Masker::default().mask_with_hashes(text))
}

/// Whether one of the current call's secrets of [`WHOLE_TEXT_CHARS`] or
/// more stands in `text` (a shorter one cannot be told from an ordinary
/// value). `false` outside a call.
pub fn holds_secret(text: &str) -> bool {
    current(|c| c.masker.holds_secret(text)).unwrap_or(false)
}

/// Whether `text` is, whole, one of the current call's secrets, of any
/// length. `false` outside a call.
pub fn is_any_secret(text: &str) -> bool {
    current(|c| c.masker.is_any_secret(text)).unwrap_or(false)
}

/// What a script printed, as the log shows it: masked, or, under
/// `export`, left out (see [`Masker::exporting`]).
pub fn script_output(text: &str) -> String {
    if withholds() {
        return format!("({} characters, {WITHHELD})", text.chars().count());
    }
    mask(text)
}

/// Whether the current call leaves out what its script prints or throws.
pub fn withholds() -> bool {
    current(|c| c.masker.withholds()).unwrap_or(false)
}

/// Notes an error text a host function raises (see
/// [`CallState::host_error`]); only under `export`, where it is read.
pub fn note_host_error(text: &str) {
    current(|c| {
        if c.masker.withholds() {
            c.host_error = Some(text.to_string());
        }
    });
}

/// Whether `text` is the last error a host function raised in the call.
pub fn raised_by_host(text: &str) -> bool {
    current(|c| c.host_error.as_deref() == Some(text)).unwrap_or(false)
}

/// Why a script's own text is not shown under `export`.
pub const WITHHELD: &str = "not shown under export, where it could hold a hash, a salt or a \
                            key: `customdb test` runs list_users and shows it";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_forms_of_a_secret_are_masked_too() {
        let password = "tab\tQuote\"Pass\\word";
        let m = Masker::new(["ab\"cd\\efgh12".into()]).with_request([password.into()]);
        for shown in [
            format!("{password:?}"),
            format!("{:?}", format!("{password:?}")),
            serde_json::json!({ "password": password }).to_string(),
            serde_json::Value::from(serde_json::json!([password]).to_string()).to_string(),
            format!("#{{\"pw\": {:?}}}", "ab\"cd\\efgh12"),
        ] {
            let masked = m.mask(&shown);
            assert!(masked.contains(REDACTED), "{shown} -> {masked}");
            for part in ["Quote", "Pass", "efgh12"] {
                assert!(!masked.contains(part), "{shown} -> {masked}");
            }
        }
        // a secret with nothing to escape has one form
        assert_eq!(forms(["plain-secret".to_string()]).len(), 1);
    }

    #[test]
    fn hashes_are_hidden_by_their_shape_where_asked() {
        let bcrypt = "$2y$05$BrTyryabcdefghijklmnopuJ8F2nM1vMv1jJ4XkR1hEJ3C5yVdS2G";
        assert_eq!(bcrypt.len(), 60);
        let argon = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        let m = Masker::default().hiding_hashes();
        for (text, shown) in [
            (format!("row hash {bcrypt}"), "row hash [redacted]"),
            (
                format!("bad row, hash was {bcrypt}."),
                "bad row, hash was [redacted].",
            ),
            (
                format!("#{{\"h\": \"{argon}\"}}"),
                "#{\"h\": \"[redacted]\"}",
            ),
            (format!("hash={bcrypt}, id=7"), "hash=[redacted], id=7"),
            (
                format!("id=7&hash={bcrypt}&x=1"),
                "id=7&hash=[redacted]&x=1",
            ),
            (format!("7,{bcrypt}"), "7,[redacted]"),
            (format!("user|{argon}|"), "user|[redacted]|"),
            (format!("{{h: {bcrypt}}}"), "{h: [redacted]}"),
            (format!("pw:{argon}."), "pw:[redacted]."),
            (format!("7,{argon},name=jane"), "7,[redacted],name=jane"),
            (format!("{argon}&next=1"), "[redacted]&next=1"),
            (
                "login {noop}hunter2 refused".to_string(),
                "login [redacted] refused",
            ),
            // short dollar strings are no hashes: a price, a shell line
            (
                "costs $5$ or $1$2 in awk '{print $1$2}'".to_string(),
                "costs $5$ or $1$2 in awk '{print $1$2}'",
            ),
            (
                "{SSHA}aGFzaGhhc2hoYXNoaGFzaGhhc2g= and more".to_string(),
                "[redacted] and more",
            ),
            // a braced name of wide characters: never cut inside one
            (
                "{éééééééééééééééééééééééééééééééééééééééééé}".to_string(),
                "{éééééééééééééééééééééééééééééééééééééééééé}",
            ),
            // wide spaces before it
            (
                format!("h\u{3000}\u{a0}{bcrypt}\u{3000}x"),
                "h\u{3000}\u{a0}[redacted]\u{3000}x",
            ),
            // an id or a digest in hex is no hash by its shape
            (
                "request 8f4586e0a1b2c3d4e5f60718293a4b5c".to_string(),
                "request 8f4586e0a1b2c3d4e5f60718293a4b5c",
            ),
        ] {
            assert_eq!(m.mask(&text), shown);
        }
        // no `$` in a long run: skipped whole, and left as it is
        let no_dollar = format!("{}x", "pbkdf2_sha".repeat(300));
        assert_eq!(m.mask(&no_dollar), no_dollar);
        // not asked: hashes stay (serve's logs, which never see one)
        assert_eq!(Masker::default().mask(bcrypt), bcrypt);
    }

    #[test]
    fn long_secrets_are_masked_wherever_they_appear() {
        let m = Masker::new(["hunter22".into(), "hunter222".into(), String::new()]);
        assert_eq!(
            m.mask("a hunter222 b hunter22 c xhunter22x"),
            "a [redacted] b [redacted] c x[redacted]x"
        );
        assert_eq!(m.mask("nothing"), "nothing");
    }

    #[test]
    fn short_secrets_only_as_whole_tokens() {
        let m = Masker::default().with_request(["y".to_string()]);
        let text = "Division by zero: y / 0 (line 1, position 3)";
        assert_eq!(
            m.mask(text),
            "Division by zero: [redacted] / 0 (line 1, position 3)"
        );
        let m = Masker::new(["1".to_string()]).with_request(["o".to_string()]);
        assert_eq!(
            m.mask("Your account is locked. Use at least 10 characters"),
            "Your account is locked. Use at least 10 characters"
        );
        assert_eq!(m.mask("1"), "[redacted]");
        assert_eq!(m.mask("o,1;o"), "[redacted],[redacted];[redacted]");
        // Letters and digits of any script bound a token.
        let m = Masker::new(["pw".to_string()]);
        assert_eq!(
            m.mask("épw pwé pw_x (pw)"),
            "épw pwé [redacted]_x ([redacted])"
        );
        // A character written as a letter and a combining mark (é as `e`
        // and U+0301), or an emoji and its modifier, is one character.
        let m = Masker::new(["e".to_string(), "\u{1F44D}".to_string()]);
        for whole in [
            "e\u{301}tude",
            "r\u{e9}sum\u{e9}",
            "e\u{301}",
            "\u{1F44D}\u{1F3FD}",
        ] {
            assert_eq!(m.mask(whole), whole);
        }
        assert_eq!(m.mask("a e \u{1F44D}!"), "a [redacted] [redacted]!");
        // after a letter and its accent, `e` is inside a word (née)
        assert_eq!(m.mask("ne\u{301}e"), "ne\u{301}e");
        // and so in a debug print, which escapes the accent
        let debug = format!("{:?}", "ne\u{301}e e\u{301}tude e");
        assert_eq!(m.mask(&debug), debug.replace(" e\"", " [redacted]\""));
        // a longer secret is masked though an accent follows it
        let m = Masker::new(["hunter".to_string()]);
        assert_eq!(m.mask("a hunter\u{301} b"), "a [redacted]\u{301} b");
    }

    #[test]
    fn hashes_are_hidden_when_asked_for_text_the_host_builds() {
        let bcrypt = "$2b$10$Wa/Qas3cAcaRpNxqgBnwees/dvqAswyPiG0rMzqLZnyLqAuWj/gWK";
        let m = Masker::new(["pepper-5ecret".to_string()]);
        assert_eq!(
            m.mask_with_hashes(&format!("x.{bcrypt} and pepper-5ecret")),
            "x.[redacted] and [redacted]"
        );
        assert_eq!(m.mask(bcrypt), bcrypt);
    }

    #[test]
    fn overlapping_secrets_become_one_mark_and_nothing_else_changes() {
        let m = Masker::new(["abcdefgh".into()]).with_request(["efghijkl".to_string()]);
        assert_eq!(m.mask("<abcdefghijkl>"), "<[redacted]>");
        // A short secret beside a long one is masked with it.
        let m = Masker::new(["abcdefgh".into()]).with_request(["xy".to_string()]);
        assert_eq!(m.mask("abcdefghxy zxy"), "[redacted] zxy");
        // A secret that is part of the mark itself is not masked again.
        let m = Masker::new(["redacted".into(), "secret-value".into()]);
        assert_eq!(m.mask("x secret-value y"), "x [redacted] y");
    }
}
