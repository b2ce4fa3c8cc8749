//! Password hashes: recognising a stored hash by its shape, verifying a plain
//! password against it in constant time, making new hashes in the
//! connection's configured algorithm, and telling when a hash should be
//! upgraded. Costs that would hold a thread for long are refused, not
//! computed. Where the work runs is [`gate`]'s business.

mod explicit;
mod gate;
pub mod kdf;
mod keycloak;
mod legacy;

pub use explicit::{verify_as, FORMATS as VERIFY_AS_FORMATS};
pub use gate::gated;
pub use keycloak::verify_keycloak;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::settings::PasswordAlgorithm;

/// The highest bcrypt cost that is computed (2^16 rounds, several seconds).
pub const MAX_BCRYPT_COST: u32 = 16;
/// The most memory an Argon2 hash may ask for, in KiB (256 MiB).
pub const MAX_ARGON2_KIB: u32 = 256 * 1024;
/// The most rounds of SHA-crypt or PBKDF2 that are computed.
pub const MAX_ROUNDS: u32 = 5_000_000;
/// The highest phpass log2(rounds) that is computed (2^24 MD5 rounds; the
/// format allows up to 2^30, minutes of work).
pub const MAX_PHPASS_LOG2: u32 = 24;
/// bcrypt uses the first 72 bytes of a password only.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// The alphabet of crypt(3)'s own base64 (MD5-crypt, phpass).
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Standard base64 that takes padding or none and loose trailing bits: PHC,
/// Django and (with `.` read as `+`) passlib's adapted alphabet.
const LENIENT_B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// How the connection makes new hashes.
#[derive(Debug, Clone, Copy)]
pub struct HashPolicy {
    pub algorithm: PasswordAlgorithm,
    pub bcrypt_cost: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `$2a$`, `$2b$`, `$2x$`, `$2y$`
    Bcrypt,
    /// `$argon2id$`, `$argon2i$`, `$argon2d$`
    Argon2,
    /// `$scrypt$ln=..,r=..,p=..$salt$hash`, PHC or passlib
    Scrypt,
    /// `$5$` and `$6$`, with or without `rounds=`
    ShaCrypt,
    /// `$1$`
    Md5Crypt,
    /// `$P$` (WordPress) and `$H$` (phpBB)
    Phpass,
    /// `$wp$2y$...`: WordPress 6.8+
    WordPress,
    /// Django's `pbkdf2_sha256$` and `pbkdf2_sha1$`
    DjangoPbkdf2,
    /// Django's `argon2$argon2id$...`
    DjangoArgon2,
    /// Django's `bcrypt_sha256$$2b$...`
    DjangoBcryptSha256,
    /// passlib's `$pbkdf2-sha256$`, `$pbkdf2-sha512$`, `$pbkdf2$`
    PasslibPbkdf2,
    /// Drupal 7's `$S$`
    Drupal,
    /// Drupal's upgraded Drupal 6 hashes: `U$S$`, `U$P$`, `U$H$`
    DrupalUpgraded,
    /// libxcrypt's `$y$`
    Yescrypt,
    /// `{name}` forms: LDAP, Spring Security, Joomla
    Braced,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// Names the prefix seen, never the hash.
    #[error("unknown password hash format ({0})")]
    UnknownFormat(String),
    #[error("the stored {0} hash is malformed")]
    Malformed(&'static str),
    /// A format or algorithm name nothing here knows, as given.
    #[error("no such password hash format: {0}")]
    UnknownName(String),
    /// A field a structured credential lacks.
    #[error("the credential has no `{0}`")]
    MissingField(String),
    /// Names the parameter and its limit, never the value asked for.
    #[error("{format}: {what} over the limit of {limit}; refused")]
    TooCostly {
        format: &'static str,
        what: &'static str,
        limit: String,
    },
    #[error("the password is longer than bcrypt's 72 bytes")]
    TooLong,
    #[error("hashing failed")]
    Internal,
    /// A verification run by [`before_work`] reached its costly work: it
    /// is to be run in full, on the hashing pool. Never leaves this module's
    /// callers' checks.
    #[error("the verification's work is still to do")]
    Deferred,
}

thread_local! {
    /// Set while [`before_work`] runs a verification on this thread.
    static BEFORE_WORK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Where a verification's costly work begins (a KDF, an iterated digest,
/// bcrypt): under [`before_work`] it stops there. Every such place calls
/// this once its value has been read and its costs checked.
pub(crate) fn work() -> Result<(), HashError> {
    if BEFORE_WORK.with(std::cell::Cell::get) {
        Err(HashError::Deferred)
    } else {
        Ok(())
    }
}

/// Runs a verification `f` on this thread up to where its costly work
/// would begin: `Some` with its result when it ends before that (a value
/// refused as unknown, malformed or too costly, or a digest cheap enough to
/// compute here), `None` when the work is still to do. So a refusal is
/// told at once, not after a wait for a hashing slot.
pub fn before_work<T>(f: impl FnOnce() -> Result<T, HashError>) -> Option<Result<T, HashError>> {
    struct Unset;
    impl Drop for Unset {
        fn drop(&mut self) {
            BEFORE_WORK.with(|b| b.set(false));
        }
    }
    BEFORE_WORK.with(|b| b.set(true));
    let _unset = Unset;
    match f() {
        Err(HashError::Deferred) => None,
        ended => Some(ended),
    }
}

/// The format of `stored`, by its shape only.
/// How every value [`detect`] knows begins (a braced one with its `{`):
/// where a search for hashes in text starts looking (the export's masking).
pub const FORM_PREFIXES: &[&str] = &[
    "$2a$",
    "$2b$",
    "$2x$",
    "$2y$",
    "$argon2",
    "$scrypt$",
    "$5$",
    "$6$",
    "$1$",
    "$P$",
    "$H$",
    "$S$",
    "$y$",
    "$wp$2",
    "$pbkdf2",
    "pbkdf2_sha",
    "argon2$argon2",
    "bcrypt_sha256$$2",
    "U$S$",
    "U$P$",
    "U$H$",
    "{",
];

pub fn detect(stored: &str) -> Option<Format> {
    let starts = |p: &str| stored.starts_with(p);
    Some(match () {
        _ if stored.len() == 60 && ["$2a$", "$2b$", "$2x$", "$2y$"].iter().any(|p| starts(p)) => {
            Format::Bcrypt
        }
        _ if ["$argon2id$", "$argon2i$", "$argon2d$"]
            .iter()
            .any(|p| starts(p)) =>
        {
            Format::Argon2
        }
        _ if starts("$scrypt$") => Format::Scrypt,
        _ if starts("$5$") || starts("$6$") => Format::ShaCrypt,
        _ if starts("$1$") => Format::Md5Crypt,
        _ if stored.len() == 34 && (starts("$P$") || starts("$H$")) => Format::Phpass,
        _ if starts("$wp$2") => Format::WordPress,
        _ if starts("pbkdf2_sha256$") || starts("pbkdf2_sha1$") => Format::DjangoPbkdf2,
        _ if starts("argon2$argon2") => Format::DjangoArgon2,
        _ if starts("bcrypt_sha256$$2") => Format::DjangoBcryptSha256,
        _ if starts("$pbkdf2-sha256$") || starts("$pbkdf2-sha512$") || starts("$pbkdf2$") => {
            Format::PasslibPbkdf2
        }
        _ if legacy::is_drupal(stored) => Format::Drupal,
        _ if starts("U$S$") || starts("U$P$") || starts("U$H$") => Format::DrupalUpgraded,
        _ if starts("$y$") => Format::Yescrypt,
        _ if legacy::braced(stored).is_some_and(|(name, _)| legacy::knows_braced(name)) => {
            Format::Braced
        }
        _ => return None,
    })
}

/// What an error may say of a hash it does not know: its `$name$` or
/// `name$` prefix, never more; nothing of a value with no such prefix (it
/// may be a plain-text password).
pub fn prefix_of(stored: &str) -> String {
    if let Some((name, _)) = legacy::braced(stored) {
        let shown_ok = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-@.".contains(&b));
        if shown_ok {
            return format!("it starts with `{{{name}}}`");
        }
    }
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 20
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if let Some(rest) = stored.strip_prefix('$') {
        if let Some((name, _)) = rest.split_once('$') {
            if name_ok(name) {
                return format!("it starts with `${name}$`");
            }
        }
    } else if let Some((name, _)) = stored.split_once('$') {
        if name_ok(name) {
            return format!("it starts with `{name}$`");
        }
    }
    format!(
        "no `$`-delimited prefix; {} characters",
        stored.chars().count()
    )
}

/// Is `plain` the password of `stored`? Empty `stored` is simply false.
pub fn verify(plain: &str, stored: &str) -> Result<bool, HashError> {
    verify_bytes(plain.as_bytes(), stored)
}

/// [`verify`] for a password given as bytes (a pre-hash, say).
fn verify_bytes(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    if stored.is_empty() {
        return Ok(false);
    }
    let format = match detect(stored) {
        Some(format) => format,
        None => {
            return Err(match malformed_form(stored) {
                Some(name) => HashError::Malformed(name),
                None => HashError::UnknownFormat(prefix_of(stored)),
            })
        }
    };
    match format {
        Format::Bcrypt => verify_bcrypt(pw, stored),
        Format::Argon2 => verify_argon2(pw, stored),
        Format::Scrypt => verify_scrypt(pw, stored),
        Format::ShaCrypt => verify_sha_crypt(pw, stored),
        Format::Md5Crypt => verify_md5_crypt(pw, stored),
        Format::Phpass => verify_phpass(pw, stored),
        Format::WordPress => {
            // bcrypt over base64(HMAC-SHA384(key "wp-sha384", password)).
            let mut mac = <Hmac<sha2::Sha384> as KeyInit>::new_from_slice(b"wp-sha384")
                .map_err(|_| HashError::Internal)?;
            mac.update(pw);
            let pre = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            verify_bcrypt(pre.as_bytes(), &stored[3..])
        }
        Format::DjangoPbkdf2 => verify_django_pbkdf2(pw, stored),
        Format::DjangoArgon2 => verify_argon2(pw, &stored["argon2".len()..]),
        Format::DjangoBcryptSha256 => {
            let digest = hex(&sha2::Sha256::digest(pw));
            verify_bcrypt(digest.as_bytes(), &stored["bcrypt_sha256$".len()..])
        }
        Format::PasslibPbkdf2 => verify_passlib_pbkdf2(pw, stored),
        Format::Drupal => legacy::verify_drupal(pw, stored),
        Format::DrupalUpgraded => legacy::verify_drupal_upgraded(pw, stored),
        Format::Yescrypt => legacy::verify_yescrypt(pw, stored),
        Format::Braced => legacy::verify_braced(pw, stored),
    }
}

/// Whether a value would be taken by [`verify`] as a stored hash of a known
/// form, well formed or not (a bcrypt value cut one character short is
/// still a bcrypt hash, refused as malformed), white space around it
/// ignored. A malformed one has 13 characters or more and no white space
/// inside: "$2y$ is bcrypt" is prose, and `$H$ero` a nickname.
pub fn recognised(stored: &str) -> bool {
    let t = stored.trim();
    detect(t).is_some()
        || (malformed_form(t).is_some() && t.len() >= 13 && !t.contains(char::is_whitespace))
}

/// Whether a stored hash of a known form, well formed or not (see
/// [`recognised`]), stands anywhere in `text`: from a place where a form's
/// prefix starts (after a braced name, any name), the run of characters
/// bcrypt, crypt and PHC strings are written in (`-` is not one of them),
/// when it is 13 characters or more, or any braced value (`old:$2y$10$…`,
/// a bcrypt value cut short inside a longer string, `x{noop}pw`). Prose
/// holds none: "$5$ off", "$1$-dimensional", "the $y$-intercept". Linear:
/// each run is looked at once, at most 2,048 bytes of it.
pub fn holds_hash(text: &str) -> bool {
    const LONGEST: usize = 2048;
    let b = text.as_bytes();
    // every form has a `$` or a brace
    if !b.iter().any(|&c| c == b'$' || c == b'{') {
        return false;
    }
    let in_hash = |c: &u8| c.is_ascii_alphanumeric() || b"./+=$,_".contains(c);
    let mut i = 0;
    while i < b.len() {
        let Some(prefix) = FORM_PREFIXES
            .iter()
            .find(|p| b[i..].starts_with(p.as_bytes()))
        else {
            i += 1;
            continue;
        };
        let braced = b[i] == b'{';
        let body = if braced {
            match b[i..b.len().min(i + 42)].iter().position(|&c| c == b'}') {
                Some(close) => i + close + 1,
                None => {
                    i += 1;
                    continue;
                }
            }
        } else {
            i + prefix.len()
        };
        // the run's end; the search goes on from there, so that each byte
        // is passed once
        let limit = b.len().min(i + LONGEST).max(body);
        let end = body + b[body..limit].iter().take_while(|c| in_hash(c)).count();
        if (braced || end - i >= 13) && recognised(&text[i..end]) {
            return true;
        }
        i = end.max(i + 1);
    }
    false
}

/// [`recognised`], for a string deep in a value that may also hold prose
/// ("$5$ off"): only a whole value of 13 characters or more with no white
/// space inside, or any value of a braced form (`{noop}` holds a plain
/// password, spaces and all).
pub fn shaped_as_hash(text: &str) -> bool {
    let t = text.trim();
    if matches!(detect(t), Some(Format::Braced)) {
        return true;
    }
    t.len() >= 13 && !t.contains(char::is_whitespace) && recognised(t)
}

/// The form a value not [`detect`]ed names by its prefix, when the rest
/// does not fit it (a bcrypt value of the wrong length, say): it is then a
/// malformed value of that form, not one of an unknown form.
fn malformed_form(stored: &str) -> Option<&'static str> {
    let starts = |p: &str| stored.starts_with(p);
    Some(match () {
        _ if ["$2a$", "$2b$", "$2x$", "$2y$"].iter().any(|p| starts(p)) => "bcrypt",
        _ if starts("$P$") || starts("$H$") => "phpass",
        _ if starts("$S$") => "Drupal $S$",
        _ if starts("$wp$") => "WordPress",
        _ if starts("argon2$") => "Django Argon2",
        _ if starts("bcrypt_sha256$") => "Django bcrypt_sha256",
        _ => return None,
    })
}

/// The shortest derived key (PBKDF2, scrypt) a stored value may hold: the
/// writers make 20 to 64 bytes, and a key of a byte or two (a column cut
/// short) would let one wrong password in 256 or 65536 match.
pub const MIN_KEY_BYTES: usize = 16;

fn too_costly(format: &'static str, what: &'static str, limit: impl ToString) -> HashError {
    HashError::TooCostly {
        format,
        what,
        limit: limit.to_string(),
    }
}

fn verify_bcrypt(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    let cost = bcrypt_cost(stored)?;
    if cost > MAX_BCRYPT_COST {
        return Err(too_costly("bcrypt", "cost", MAX_BCRYPT_COST));
    }
    if stored.starts_with("$2x$") {
        return verify_bcrypt_2x(pw, stored, cost);
    }
    if !bcrypt_body_ok(stored) {
        return Err(HashError::Malformed("bcrypt"));
    }
    work()?;
    // Legacy systems verified with the first 72 bytes: so do we.
    bcrypt::verify(pw, stored).map_err(|_| HashError::Malformed("bcrypt"))
}

/// `$2x$`: PHP's (crypt_blowfish's) mark for hashes made before its 2011
/// fix, which it still verifies with the old bug: each byte of the key was
/// read as a signed char, so a byte of 0x80 or more set every higher bit of
/// the 32-bit word being built. The same key words as crypt_blowfish's
/// `BF_set_key` with its bug flag, given to bcrypt as the 72 bytes its key
/// schedule reads them from (18 words, cyclically over password ‖ NUL).
fn verify_bcrypt_2x(pw: &[u8], stored: &str, cost: u32) -> Result<bool, HashError> {
    const F: &str = "bcrypt";
    let (Some(salt), Some(hash)) = (stored.get(7..29), stored.get(29..)) else {
        return Err(HashError::Malformed(F));
    };
    let salt: [u8; 16] = bcrypt::BASE_64
        .decode(salt)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(HashError::Malformed(F))?;
    if !(4..=31).contains(&cost) || hash.len() != 31 {
        return Err(HashError::Malformed(F));
    }
    work()?;
    let mut cycle = pw.iter().copied().chain([0]).cycle();
    let mut key = [0u8; 72];
    for word in key.chunks_mut(4) {
        let mut value = 0u32;
        for _ in 0..4 {
            let byte = cycle.next().unwrap_or(0);
            value = (value << 8) | (byte as i8 as i32 as u32);
        }
        word.copy_from_slice(&value.to_be_bytes());
    }
    let output = bcrypt::bcrypt(cost, salt, &key);
    let computed = bcrypt::BASE_64.encode(&output[..23]);
    Ok(computed.as_bytes().ct_eq(hash.as_bytes()).into())
}

fn argon2_params(stored: &str) -> Result<(PasswordHash, argon2::Params), HashError> {
    let hash = PasswordHash::new(stored).map_err(|_| HashError::Malformed("Argon2"))?;
    let params = argon2::Params::try_from(&hash).map_err(|_| HashError::Malformed("Argon2"))?;
    Ok((hash, params))
}

fn verify_argon2(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    // Argon2 1.0's encoding has no `v=`: the reference code reads it as
    // version 16, the PHC parser as 19.
    if stored
        .split('$')
        .nth(2)
        .is_some_and(|f| !f.starts_with("v="))
    {
        return verify_argon2_long(pw, stored);
    }
    let Ok((hash, params)) = argon2_params(stored) else {
        // The PHC parser stops at 64-byte outputs; longer ones (up to the
        // cap) are computed here.
        return verify_argon2_long(pw, stored);
    };
    let output = hash.hash.as_ref().map_or(0, |h| h.len());
    kdf::argon2_costs(
        "Argon2",
        params.t_cost(),
        params.m_cost(),
        params.p_cost(),
        output,
    )?;
    work()?;
    match Argon2::default().verify_password(pw, &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(_) => Err(HashError::Malformed("Argon2")),
    }
}

/// `$argon2X$v=N$m=M,t=T,p=P$salt$hash` with an output the PHC parser does
/// not take (longer than 64 bytes), or with no `v=`, computed directly;
/// the version, when absent, is 16 (1.0), as the reference code reads it.
fn verify_argon2_long(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "Argon2";
    let parts: Vec<&str> = stored.split('$').collect();
    let (variant, version, params, salt, hash) = match parts[..] {
        ["", variant, version, params, salt, hash] => (variant, Some(version), params, salt, hash),
        ["", variant, params, salt, hash] => (variant, None, params, salt, hash),
        _ => return Err(HashError::Malformed(F)),
    };
    let variant = kdf::argon2_variant(variant).ok_or(HashError::Malformed(F))?;
    let version_given = version.is_some();
    let version = match version {
        Some("v=19") => argon2::Version::V0x13,
        None | Some("v=16") => argon2::Version::V0x10,
        Some(_) => return Err(HashError::Malformed(F)),
    };
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in params.split(',') {
        let number = |v: &str| v.parse::<u32>().map_err(|_| HashError::Malformed(F));
        match kv.split_once('=') {
            Some(("m", v)) => m = Some(number(v)?),
            Some(("t", v)) => t = Some(number(v)?),
            Some(("p", v)) => p = Some(number(v)?),
            _ => return Err(HashError::Malformed(F)),
        }
    }
    let (Some(m), Some(t), Some(p)) = (m, t, p) else {
        return Err(HashError::Malformed(F));
    };
    let salt = b64(salt, F)?;
    let expected = b64(hash, F)?;
    // with a version, only what the parser refused for its length: anything
    // else is malformed
    if version_given && expected.len() <= 64 {
        return Err(HashError::Malformed(F));
    }
    let computed = kdf::argon2(F, variant, version, pw, &salt, t, m, p, expected.len())?;
    Ok(bool::from(computed.ct_eq(&expected)))
}

/// Decodes PHC, Django and passlib base64 (`.` for `+`), padded or not.
fn b64(text: &str, format: &'static str) -> Result<Vec<u8>, HashError> {
    LENIENT_B64
        .decode(text.replace('.', "+"))
        .map_err(|_| HashError::Malformed(format))
}

fn verify_scrypt(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "scrypt";
    let parts: Vec<&str> = stored.split('$').collect();
    let [_, _, params, salt, hash] = parts[..] else {
        return Err(HashError::Malformed(F));
    };
    let (mut ln, mut r, mut p) = (None, 8u32, 1u32);
    for kv in params.split(',') {
        match kv.split_once('=') {
            Some(("ln", v)) => ln = v.parse::<u8>().ok(),
            Some(("r", v)) => r = v.parse().map_err(|_| HashError::Malformed(F))?,
            Some(("p", v)) => p = v.parse().map_err(|_| HashError::Malformed(F))?,
            _ => return Err(HashError::Malformed(F)),
        }
    }
    // The caps are kdf::scrypt's, checked before any work.
    let ln = ln.filter(|ln| *ln < 64).ok_or(HashError::Malformed(F))?;
    let salt = b64(salt, F)?;
    let expected = b64(hash, F)?;
    kdf::scrypt_costs(F, 1u64 << ln, r, p, expected.len())?;
    if expected.len() < MIN_KEY_BYTES {
        return Err(HashError::Malformed(F));
    }
    let out = kdf::scrypt(F, pw, &salt, 1u64 << ln, r, p, expected.len())?;
    Ok(out.ct_eq(&expected).into())
}

fn verify_sha_crypt(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "SHA-crypt";
    let malformed = || HashError::Malformed(F);
    let wide = stored.starts_with("$6$");
    let rest = &stored[3..];
    // glibc's rounds: 5,000 when not given, brought into 1,000..999,999,999
    let (rounds, rest) = match rest.strip_prefix("rounds=") {
        Some(r) => {
            let (n, rest) = r.split_once('$').ok_or_else(malformed)?;
            if !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(malformed());
            }
            let n: u64 = n.parse().map_err(|_| malformed())?;
            if n > u64::from(MAX_ROUNDS) {
                return Err(too_costly(F, "rounds", MAX_ROUNDS));
            }
            // glibc writes the rounds it used, never under 1,000
            if n < 1000 {
                return Err(malformed());
            }
            (n as u32, rest)
        }
        None => (5000, rest),
    };
    // The salt may be empty; glibc writes at most 16 characters of it.
    let (salt, hash) = rest.split_once('$').ok_or_else(malformed)?;
    if salt.len() > 16 {
        return Err(malformed());
    }
    let salt = salt.as_bytes();
    if !kdf::is_crypt64(hash, if wide { 86 } else { 43 }) {
        return Err(malformed());
    }
    let params = sha_crypt::Params::new(rounds).map_err(|_| malformed())?;
    work()?;
    let computed = if wide {
        crypt64_in_order(&sha_crypt::sha512_crypt(pw, salt, params), &SHA512_ORDER)
    } else {
        crypt64_in_order(&sha_crypt::sha256_crypt(pw, salt, params), &SHA256_ORDER)
    };
    Ok(computed.as_bytes().ct_eq(hash.as_bytes()).into())
}

/// The crypt family's digest text: the digest's bytes in the order the
/// format writes them, 3 at a time as crypt64 (each group's first byte
/// lowest, a last byte or two as 2 or 3 characters), which
/// `kdf::crypt64_encode` writes.
fn crypt64_in_order(digest: &[u8], order: &[usize]) -> String {
    let ordered: Vec<u8> = order.iter().map(|&i| digest[i]).collect();
    kdf::crypt64_encode(&ordered)
}

/// The byte orders of glibc's MD5-crypt, SHA-256-crypt and SHA-512-crypt.
const MD5_ORDER: [usize; 16] = [12, 6, 0, 13, 7, 1, 14, 8, 2, 15, 9, 3, 5, 10, 4, 11];
const SHA256_ORDER: [usize; 32] = [
    20, 10, 0, 11, 1, 21, 2, 22, 12, 23, 13, 3, 14, 4, 24, 5, 25, 15, 26, 16, 6, 17, 7, 27, 8, 28,
    18, 29, 19, 9, 30, 31,
];
const SHA512_ORDER: [usize; 64] = [
    42, 21, 0, 1, 43, 22, 23, 2, 44, 45, 24, 3, 4, 46, 25, 26, 5, 47, 48, 27, 6, 7, 49, 28, 29, 8,
    50, 51, 30, 9, 10, 52, 31, 32, 11, 53, 54, 33, 12, 13, 55, 34, 35, 14, 56, 57, 36, 15, 16, 58,
    37, 38, 17, 59, 60, 39, 18, 19, 61, 40, 41, 20, 62, 63,
];

fn md5_crypt(pw: &[u8], salt: &[u8]) -> String {
    let mut alt = Md5::new();
    alt.update(pw);
    alt.update(salt);
    alt.update(pw);
    let alt = alt.finalize();

    let mut ctx = Md5::new();
    ctx.update(pw);
    ctx.update(b"$1$");
    ctx.update(salt);
    let mut left = pw.len();
    while left > 0 {
        let n = left.min(16);
        ctx.update(&alt[..n]);
        left -= n;
    }
    let mut i = pw.len();
    while i > 0 {
        if i & 1 == 1 {
            ctx.update([0u8]);
        } else {
            ctx.update(&pw[..1]);
        }
        i >>= 1;
    }
    let mut fin = ctx.finalize();
    for round in 0..1000 {
        let mut c = Md5::new();
        if round & 1 == 1 {
            c.update(pw);
        } else {
            c.update(fin);
        }
        if round % 3 != 0 {
            c.update(salt);
        }
        if round % 7 != 0 {
            c.update(pw);
        }
        if round & 1 == 1 {
            c.update(fin);
        } else {
            c.update(pw);
        }
        fin = c.finalize();
    }
    crypt64_in_order(&fin, &MD5_ORDER)
}

fn verify_md5_crypt(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    let rest = &stored[3..];
    let (salt, hash) = rest
        .split_once('$')
        .ok_or(HashError::Malformed("MD5-crypt"))?;
    if !kdf::is_crypt64(hash, 22) {
        return Err(HashError::Malformed("MD5-crypt"));
    }
    let salt = &salt.as_bytes()[..salt.len().min(8)];
    work()?;
    Ok(md5_crypt(pw, salt).as_bytes().ct_eq(hash.as_bytes()).into())
}

fn verify_phpass(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "phpass";
    let log2 = ITOA64
        .iter()
        .position(|c| *c == stored.as_bytes()[3])
        .ok_or(HashError::Malformed(F))? as u32;
    if !(7..=30).contains(&log2) {
        return Err(HashError::Malformed(F));
    }
    if log2 > MAX_PHPASS_LOG2 {
        return Err(too_costly(F, "rounds", format!("2^{MAX_PHPASS_LOG2}")));
    }
    if !stored
        .get(12..)
        .is_some_and(|hash| kdf::is_crypt64(hash, 22))
    {
        return Err(HashError::Malformed(F));
    }
    let salt = &stored.as_bytes()[4..12];
    work()?;
    let mut h = Md5::new().chain_update(salt).chain_update(pw).finalize();
    for _ in 0..(1u32 << log2) {
        h = Md5::new().chain_update(h).chain_update(pw).finalize();
    }
    let computed = kdf::crypt64_encode(&h);
    Ok(computed.as_bytes().ct_eq(&stored.as_bytes()[12..]).into())
}

fn pbkdf2_rounds(text: &str, format: &'static str) -> Result<u32, HashError> {
    let rounds: u64 = text.parse().map_err(|_| HashError::Malformed(format))?;
    if rounds == 0 {
        return Err(HashError::Malformed(format));
    }
    if rounds > u64::from(MAX_ROUNDS) {
        return Err(too_costly(format, "rounds", MAX_ROUNDS));
    }
    Ok(rounds as u32)
}

fn pbkdf2_matches(
    format: &'static str,
    digest: &str,
    pw: &[u8],
    salt: &[u8],
    rounds: u32,
    expected: &[u8],
) -> Result<bool, HashError> {
    let prf = match digest {
        "sha1" => kdf::Digest::Sha1,
        "sha256" => kdf::Digest::Sha256,
        _ => kdf::Digest::Sha512,
    };
    kdf::pbkdf2_costs(format, u64::from(rounds), expected.len())?;
    if expected.len() < MIN_KEY_BYTES {
        return Err(HashError::Malformed(format));
    }
    let out = kdf::pbkdf2(format, prf, pw, salt, u64::from(rounds), expected.len())?;
    Ok(out.ct_eq(expected).into())
}

/// `pbkdf2_sha256$rounds$salt$base64`: the salt is used as text.
fn verify_django_pbkdf2(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "Django PBKDF2";
    let parts: Vec<&str> = stored.split('$').collect();
    let [alg, rounds, salt, hash] = parts[..] else {
        return Err(HashError::Malformed(F));
    };
    let rounds = pbkdf2_rounds(rounds, F)?;
    let expected = b64(hash, F)?;
    let digest = if alg == "pbkdf2_sha1" {
        "sha1"
    } else {
        "sha256"
    };
    pbkdf2_matches(F, digest, pw, salt.as_bytes(), rounds, &expected)
}

/// `$pbkdf2-sha256$rounds$salt$hash`, salt and hash in passlib's base64.
fn verify_passlib_pbkdf2(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "passlib PBKDF2";
    let parts: Vec<&str> = stored.split('$').collect();
    let [_, alg, rounds, salt, hash] = parts[..] else {
        return Err(HashError::Malformed(F));
    };
    let digest = match alg {
        "pbkdf2" => "sha1",
        "pbkdf2-sha256" => "sha256",
        _ => "sha512",
    };
    let rounds = pbkdf2_rounds(rounds, F)?;
    let expected = b64(hash, F)?;
    pbkdf2_matches(F, digest, pw, &b64(salt, F)?, rounds, &expected)
}

/// A hash of a random password in the policy's algorithm and cost: what a
/// login that found no user verifies, so that its answer takes as long as
/// one that verified a wrong password.
pub fn dummy_hash(policy: HashPolicy) -> Result<String, HashError> {
    hash(&hex(&rand::random::<[u8; 16]>()), policy)
}

/// Lower-case hexadecimal, as legacy schemes store digests.
pub fn hex(bytes: &[u8]) -> String {
    kdf::hex_encode(bytes)
}

/// A new hash of `plain` in the policy's algorithm.
pub fn hash(plain: &str, policy: HashPolicy) -> Result<String, HashError> {
    match policy.algorithm {
        PasswordAlgorithm::Bcrypt => {
            if !hashable(plain, policy) {
                return Err(HashError::TooLong);
            }
            bcrypt::hash(plain, policy.bcrypt_cost).map_err(|_| HashError::Internal)
        }
        PasswordAlgorithm::Argon2id => Argon2::default()
            .hash_password(plain.as_bytes())
            .map(|h| h.to_string())
            .map_err(|_| HashError::Internal),
    }
}

/// Whether [`hash`] takes `plain` under `policy`: bcrypt uses at most 72
/// bytes and refuses more rather than cut them.
pub fn hashable(plain: &str, policy: HashPolicy) -> bool {
    policy.algorithm != PasswordAlgorithm::Bcrypt || plain.len() <= BCRYPT_MAX_PASSWORD_BYTES
}

/// False only for a value [`hash`] could have written with `policy`: a bare
/// `$2a$`, `$2b$` or `$2y$` hash at the policy's cost, or `$argon2id$v=19$`
/// at the default memory, time and parallelism. True for anything else,
/// known or not, wrapped or malformed, `""` included: it never fails, so
/// that a login may end with it whatever the column held.
pub fn needs_rehash(stored: &str, policy: HashPolicy) -> bool {
    match (policy.algorithm, detect(stored)) {
        (PasswordAlgorithm::Bcrypt, Some(Format::Bcrypt)) => {
            stored.starts_with("$2x$")
                || bcrypt_cost(stored) != Ok(policy.bcrypt_cost)
                || !bcrypt_body_ok(stored)
        }
        (PasswordAlgorithm::Argon2id, Some(Format::Argon2)) => {
            let Ok((hash, params)) = argon2_params(stored) else {
                return true;
            };
            let wanted = argon2::Params::default();
            hash.algorithm.as_str() != "argon2id"
                || hash.version != Some(0x13)
                || params.m_cost() != wanted.m_cost()
                || params.t_cost() != wanted.t_cost()
                || params.p_cost() != wanted.p_cost()
        }
        _ => true,
    }
}

/// Whether the bcrypt crate reads the value (its salt and digest decoded),
/// as a verification would.
fn bcrypt_body_ok(stored: &str) -> bool {
    stored.parse::<bcrypt::HashParts>().is_ok()
}

fn bcrypt_cost(stored: &str) -> Result<u32, HashError> {
    stored
        .get(4..6)
        .and_then(|c| c.parse().ok())
        .ok_or(HashError::Malformed("bcrypt"))
}

#[cfg(test)]
mod before_work_tests {
    use super::*;

    /// Every committed vector: what `before_work` tells of it. A format
    /// that computes a KDF, an iterated digest or bcrypt must stop at its
    /// work (`None`), or it would run on a request thread; only single
    /// digests may end there, and then with the full verification's answer.
    #[test]
    fn costly_formats_stop_at_their_work_and_cheap_ones_end_with_the_answer() {
        let hashes = include_str!("../../tests/vectors/hashes.tsv");
        let legacy = include_str!("../../tests/vectors/legacy.tsv");
        let mut ended = std::collections::BTreeSet::new();
        let mut stopped = 0;
        let rows = hashes
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0], "verify", f[1], f[2], None)
            })
            .chain(legacy.lines().map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f[0], f[1], f[2], f[3], f.get(4).copied())
            }));
        for (label, how, pw, stored, extra) in rows {
            let run = || match how {
                "verify" => verify(pw, stored),
                "keycloak" => {
                    let secret: serde_json::Value = serde_json::from_str(stored).unwrap();
                    let credential: serde_json::Value =
                        serde_json::from_str(extra.unwrap()).unwrap();
                    verify_keycloak(pw, &secret, &credential)
                }
                "descriptor" => Ok(true),
                other => verify_as(other.trim_start_matches("verify_as:"), pw, stored),
            };
            if how == "descriptor" {
                continue;
            }
            match before_work(run) {
                None => stopped += 1,
                Some(answer) => {
                    assert_eq!(answer, Ok(true), "{label}");
                    ended.insert(label);
                }
            }
        }
        assert!(stopped > 100, "{stopped}");
        // single digests of the password (and a salt), nothing iterated
        let cheap: std::collections::BTreeSet<&str> = [
            "hex_md5",
            "hex_sha1",
            "hex_sha1_upper",
            "hex_sha256",
            "hex_sha512",
            "joomla_md5",
            "joomla_md5_salt",
            "joomla_sha256",
            "joomla_sha256_as",
            "ldap_sha256",
            "ldap_sha512_lower",
            "ldap_ssha384",
            "magento2_sha256",
            "magento2_short_salt",
            "mysql41",
            "passlib_ldap_hex_md5",
            "passlib_ldap_hex_sha1",
            "passlib_ldap_md5",
            "passlib_ldap_salted_md5",
            "passlib_ldap_salted_sha1",
            "passlib_ldap_salted_sha256",
            "passlib_ldap_salted_sha512",
            "passlib_ldap_sha1",
            "spring_ldap_ssha",
            "spring_md5_salted",
            "spring_noop",
            "spring_sha1_salted",
            "spring_sha256_plain",
        ]
        .into_iter()
        .collect();
        let unexpected: Vec<_> = ended.difference(&cheap).collect();
        assert!(
            unexpected.is_empty(),
            "computed before the pool: {unexpected:?}"
        );
    }

    #[test]
    fn refusals_end_before_any_work_and_the_flag_is_cleared() {
        for stored in [
            "$2y$31$abcdefghijklmnopqrstuu5ly1q8Ar9lUbQuJX6i2JiGNgzYp4Gmq",
            "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$P$Zabcdefgh1234567890123456789012",
            "$5$rounds=999999999$salt$",
            "$zz$unknown",
        ] {
            let answer = before_work(|| verify("pw", stored));
            assert!(matches!(answer, Some(Err(_))), "{stored}: {answer:?}");
        }
        // outside before_work, nothing is deferred
        assert_eq!(work(), Ok(()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_real_hash_at_the_policy_and_costs_a_verification() {
        for policy in [
            HashPolicy {
                algorithm: PasswordAlgorithm::Bcrypt,
                bcrypt_cost: 8,
            },
            HashPolicy {
                algorithm: PasswordAlgorithm::Argon2id,
                bcrypt_cost: 10,
            },
        ] {
            let dummy = dummy_hash(policy).unwrap();
            assert!(!needs_rehash(&dummy, policy), "{dummy}");
            assert_eq!(verify("", &dummy), Ok(false));
            assert_ne!(
                dummy_hash(policy).unwrap(),
                dummy,
                "a fresh salt and password"
            );
        }
    }

    const BCRYPT: HashPolicy = HashPolicy {
        algorithm: PasswordAlgorithm::Bcrypt,
        bcrypt_cost: 4,
    };
    const ARGON: HashPolicy = HashPolicy {
        algorithm: PasswordAlgorithm::Argon2id,
        bcrypt_cost: 10,
    };

    #[test]
    fn bcrypt_round_trip_and_72_byte_rule() {
        let h = hash("correct horse", BCRYPT).unwrap();
        assert_eq!(detect(&h), Some(Format::Bcrypt));
        assert!(verify("correct horse", &h).unwrap());
        assert!(!verify("wrong horse", &h).unwrap());
        assert_eq!(hash(&"x".repeat(73), BCRYPT), Err(HashError::TooLong));
        assert!(hash(&"x".repeat(72), BCRYPT).is_ok());
        // 72 bytes, not characters: 25 three-byte characters are 75 bytes
        assert_eq!(hash(&"€".repeat(25), BCRYPT), Err(HashError::TooLong));
    }

    #[test]
    fn argon2_round_trip() {
        let h = hash("pässword", ARGON).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("pässword", &h).unwrap());
        assert!(!verify("password", &h).unwrap());
        assert!(!needs_rehash(&h, ARGON));
        assert!(needs_rehash(&h, BCRYPT));
    }

    #[test]
    fn needs_rehash_by_cost() {
        let h = hash("pw", BCRYPT).unwrap();
        assert!(!needs_rehash(&h, BCRYPT));
        let other = HashPolicy {
            bcrypt_cost: 5,
            ..BCRYPT
        };
        assert!(needs_rehash(&h, other));
        assert!(needs_rehash(&h, ARGON));
    }

    #[test]
    fn a_known_prefix_with_the_wrong_rest_is_malformed_not_unknown() {
        for (stored, form) in [
            ("$2y$05$short", "bcrypt"),
            ("$P$short", "phpass"),
            ("$S$short", "Drupal $S$"),
            ("$wp$x", "WordPress"),
            ("argon2$bad", "Django Argon2"),
            ("bcrypt_sha256$x", "Django bcrypt_sha256"),
        ] {
            assert!(
                matches!(verify("pw", stored), Err(HashError::Malformed(f)) if f == form),
                "{stored}: {:?}",
                verify("pw", stored)
            );
        }
    }

    #[test]
    fn unknown_format_names_the_prefix_only() {
        let e = verify("pw", "$zz$secretsecretsecret").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown password hash format (it starts with `$zz$`)"
        );
        let e = verify("pw", "sha1$salt$0123abcd").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown password hash format (it starts with `sha1$`)"
        );
        // a plain-text password in the column: nothing of it is shown
        let e = verify("pw", "plaintextpassword").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown password hash format (no `$`-delimited prefix; 17 characters)"
        );
        assert_eq!(verify("pw", ""), Ok(false));
    }

    /// Made by PHP and passlib (tests/vectors/generate), never by us.
    const VECTORS: &str = include_str!("../../tests/vectors/hashes.tsv");

    #[test]
    fn every_reference_vector_verifies_and_a_wrong_password_does_not() {
        let mut formats = std::collections::BTreeSet::new();
        for line in VECTORS.lines() {
            let [name, pw, stored] = line.split('\t').collect::<Vec<_>>()[..] else {
                panic!("bad vector line {line}");
            };
            assert!(detect(stored).is_some(), "{name} not recognised");
            assert!(
                FORM_PREFIXES.iter().any(|p| stored.starts_with(p)),
                "{name}: no FORM_PREFIXES entry"
            );
            assert_eq!(verify(pw, stored), Ok(true), "{name}");
            assert_eq!(verify(&format!("{pw}x"), stored), Ok(false), "{name}");
            assert_eq!(verify("", stored), Ok(false), "{name}");
            assert!(
                needs_rehash(stored, BCRYPT) || name == "php_bcrypt_2y",
                "{name}"
            );
            formats.insert(detect(stored).map(|f| format!("{f:?}")));
        }
        assert_eq!(formats.len(), 11, "every format has a vector: {formats:?}");
    }

    const LEGACY: &str = include_str!("../../tests/vectors/legacy.tsv");

    /// customdb's verdict on a vector of legacy.tsv.
    fn legacy_verdict(
        how: &str,
        pw: &str,
        stored: &str,
        extra: Option<&str>,
    ) -> Result<bool, HashError> {
        match how {
            "verify" => verify(pw, stored),
            "keycloak" => {
                let secret = serde_json::from_str(stored).unwrap();
                let credential = serde_json::from_str(extra.unwrap()).unwrap();
                verify_keycloak(pw, &secret, &credential)
            }
            other => verify_as(other.strip_prefix("verify_as:").unwrap(), pw, stored),
        }
    }

    #[test]
    fn every_second_round_vector_verifies_and_a_wrong_password_does_not() {
        let mut labels = std::collections::BTreeSet::new();
        for line in LEGACY.lines() {
            let fields: Vec<&str> = line.split('\t').collect();
            let (label, how, pw, stored, extra) = (
                fields[0],
                fields[1],
                fields[2],
                fields[3],
                fields.get(4).copied(),
            );
            if how == "descriptor" {
                // `customdb export`'s descriptors: no verify of ours reads them
                continue;
            }
            if how == "verify" {
                assert!(detect(stored).is_some(), "{label} not recognised");
                assert!(
                    FORM_PREFIXES.iter().any(|p| stored.starts_with(p)),
                    "{label}: no FORM_PREFIXES entry"
                );
                assert!(needs_rehash(stored, BCRYPT), "{label}");
            } else if how != "keycloak" {
                assert!(
                    detect(stored).is_none() || label.starts_with("joomla"),
                    "{label}: verify_as only"
                );
            }
            assert_eq!(legacy_verdict(how, pw, stored, extra), Ok(true), "{label}");
            assert_eq!(
                legacy_verdict(how, &format!("{pw}x"), stored, extra),
                Ok(false),
                "{label}"
            );
            labels.insert(label);
        }
        assert!(labels.len() >= 50, "{}", labels.len());
    }

    #[test]
    fn braced_names_ignore_case_and_unknown_ones_are_named_by_their_braces() {
        // {sha} and {SHA} of "password"
        let upper = "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=";
        assert_eq!(verify("password", upper), Ok(true));
        assert_eq!(
            verify("password", &upper.replace("{SHA}", "{sha}")),
            Ok(true)
        );
        assert_eq!(
            verify("password", "{MD4}8a9d093f14f8701df17732b2bb182c74"),
            Err(HashError::UnknownFormat("it starts with `{MD4}`".into()))
        );
        // a body that does not parse names the format, never the value
        let e = verify("password", "{SSHA}not*base64").unwrap_err();
        assert!(matches!(e, HashError::Malformed(_)), "{e}");
        assert!(!e.to_string().contains("not*base64"));
        // an {SSHA} body no longer than its digest
        let e = verify("password", "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=").unwrap_err();
        assert!(matches!(e, HashError::Malformed(_)), "{e}");
        // DES crypt under {CRYPT} is not known
        assert!(matches!(
            verify("x", "{CRYPT}abJnggxhB/yWI"),
            Err(HashError::UnknownFormat(_))
        ));
        // a bare hex digest is never guessed
        assert!(matches!(
            verify("password", "5f4dcc3b5aa765d61d8327deb882cf99"),
            Err(HashError::UnknownFormat(_))
        ));
        assert!(matches!(
            verify_as("md4", "x", "y"),
            Err(HashError::UnknownName(_))
        ));
        assert_eq!(verify_as("md5", "x", ""), Ok(false));
        assert!(matches!(
            verify_as("md5", "x", "not hex"),
            Err(HashError::Malformed("md5"))
        ));
    }

    #[test]
    fn malformed_second_round_values_name_their_format_and_never_the_value() {
        let marker = "SECRETMARKER";
        let cases: Vec<(&str, String)> = vec![
            (
                "verify",
                format!("$S$!{marker}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ),
            (
                "verify",
                format!("$S$4abcdefgh{marker}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ),
            ("verify", format!("$y$j9T${marker}")),
            ("verify", format!("{{SSHA256}}{marker}*")),
            ("verify", format!("{{PBKDF2-SHA256}}1000${marker}")),
            (
                "verify",
                format!("{{PBKDF2-SHA256}}0$c2FsdA$aGFzaA{marker}"),
            ),
            ("verify", format!("{{scrypt}}$zz${marker}$x")),
            ("verify", format!("{{scrypt}}$e0801$c2FsdA==${marker}!")),
            ("verify", format!("{{bcrypt}}{marker}")),
            ("verify", format!("{{argon2}}{marker}")),
            ("verify", format!("{{ldap}}{marker}")),
            ("verify", format!("{{SHA-256}}{{salt{marker}")),
            ("verify", format!("U$S${marker}")),
            ("magento2", marker.to_string()),
            ("magento2", format!("ab:cd:9{marker}")),
            ("aspnet_identity", format!("{marker}!!")),
            ("aspnet_identity", kdf::base64_encode(&[2u8; 40])),
            ("mysql41", format!("*{marker}")),
            ("sha256", marker.to_string()),
            ("joomla", format!("zz:{marker}")),
        ];
        for (how, stored) in cases {
            let e = match how {
                "verify" => verify("pw", &stored),
                name => verify_as(name, "pw", &stored),
            }
            .expect_err(&stored);
            assert!(
                matches!(e, HashError::Malformed(_) | HashError::UnknownFormat(_)),
                "{stored}: {e:?}"
            );
            assert!(!e.to_string().contains(marker), "{stored}: {e}");
        }
        let secret = serde_json::json!({"value": "not base64!", "salt": "c2FsdA=="});
        let cred = serde_json::json!({"hashIterations": 5, "algorithm": "pbkdf2"});
        assert_eq!(
            verify_keycloak("pw", &secret, &cred),
            Err(HashError::Malformed("Keycloak credential"))
        );
    }

    /// A bcrypt value of the right length and cost but a broken body needs
    /// a new hash: it is malformed.
    #[test]
    fn a_broken_bcrypt_body_needs_a_rehash() {
        let policy = HashPolicy {
            algorithm: PasswordAlgorithm::Bcrypt,
            bcrypt_cost: 10,
        };
        let good = "$2y$10$abcdefghijklmnopqrstuuJ8F2nM1vMv1jJ4XkR1hEJ3C5yVdS2Gm";
        assert_eq!(good.len(), 60);
        assert!(!needs_rehash(good, policy));
        let broken = format!("$2y$10${}", "!".repeat(53));
        assert!(needs_rehash(&broken, policy));
    }

    /// A Keycloak row of an algorithm not taken is named by it, whatever
    /// else the row lacks; passes past 32 bits are a cost refusal.
    #[test]
    fn keycloak_rows_name_an_unknown_algorithm_first() {
        let secret = serde_json::json!({"value": "c2FsdHNhbHRzYWx0c2FsdA==", "salt": "c2FsdHNhbHRzYWx0c2FsdA=="});
        let e = verify_keycloak("pw", &secret, &serde_json::json!({"algorithm": "bcrypt"}))
            .unwrap_err();
        assert!(
            matches!(&e, HashError::UnknownName(n) if n.contains("bcrypt")),
            "{e}"
        );
        let cred = serde_json::json!({"algorithm": "argon2", "hashIterations": 1u64 << 40,
            "additionalParameters": {"type": ["id"], "version": ["1.3"], "hashLength": ["16"],
                "memory": ["64"], "parallelism": ["1"]}});
        assert!(matches!(
            verify_keycloak("pw", &secret, &cred),
            Err(HashError::TooCostly { .. })
        ));
        // memory past 32 bits too
        let mut cred = cred;
        cred["hashIterations"] = 2.into();
        cred["additionalParameters"]["memory"] = serde_json::json!(["99999999999"]);
        assert!(matches!(
            verify_keycloak("pw", &secret, &cred),
            Err(HashError::TooCostly { .. })
        ));
    }

    /// A broken value under braces is named by its own braces, never by a
    /// neighbouring format's.
    #[test]
    fn broken_braced_values_are_named_by_their_braces() {
        for (stored, name) in [
            ("{SSHA512}AAAA", "{SSHA512}"),
            ("{SSHA256}AAAA", "{SSHA256}"),
            ("{SMD5}AAAA", "{SMD5}"),
            ("{SSHA}AAAA", "{SSHA}"),
            ("{SHA384}AAAA", "{SHA384}"),
            ("{SHA512}AAAA", "{SHA512}"),
            ("{PBKDF2-SHA256}1000$bad", "{PBKDF2-SHA256}"),
            ("{PBKDF2-SHA512}1000$bad", "{PBKDF2-SHA512}"),
        ] {
            assert_eq!(
                verify("pw", stored),
                Err(HashError::Malformed(name)),
                "{stored}"
            );
        }
    }

    /// An Argon2id output of 100 bytes, past the PHC parser's 64, made with
    /// PHP's libsodium: `sodium_crypto_pwhash(100, PASSWORD,
    /// "somesaltsomesalt", 2, 1024 * 1024, SODIUM_CRYPTO_PWHASH_ALG_ARGON2ID13)`
    /// in unpadded base64.
    #[test]
    fn argon2_outputs_longer_than_64_bytes_verify() {
        let stored = "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$U+MqY7Q7SBilTiwERS8i6bxZoflHPQRDfkpuOu3RfeBgGxOpPxZG038p2ot96Sn6z35XPCySvMp9lxJe+Y/rvWt1iB3doCIZEZkYThBlgwwfbv3S9RFQgALztXdvSEkMOV7yqg";
        assert_eq!(verify("correct horse battery staple", stored), Ok(true));
        assert_eq!(verify("correct horse battery stapler", stored), Ok(false));
        // Django's form of it too
        let django = format!("argon2{stored}");
        assert_eq!(verify("correct horse battery staple", &django), Ok(true));
        // past 1024 bytes: refused as too costly, naming the limit
        let long = format!(
            "$argon2id$v=19$m=1024,t=2,p=1$c29tZXNhbHRzb21lc2FsdA${}",
            "A".repeat(1400)
        );
        match verify("x", &long) {
            Err(e @ HashError::TooCostly { .. }) => {
                assert!(e.to_string().contains("1024 bytes"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// ASP.NET Core Identity's own test vectors (PasswordHasherTest.cs):
    /// the password "my password".
    #[test]
    fn aspnet_identitys_published_vectors() {
        for ok in [
            "AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggHIVY0sdEUfdyeM+E1LtH1uJg==",
            "ANXrDknc7fGPpigibZXXZFMX4aoqz44JveK6jQuwY3eH/UyPhvr5xTPeGYEckLxz9A==",
            "AQAAAAEAACcQAAAAEAABAgMEBQYHCAkKCwwNDg+yWU7rLgUwPZb1Itsmra7cbxw2EFpwpVFIEtP+JIuUEw==",
            "AQAAAAIAAAAyAAAAEOMwvh3+FZxqkdMBz2ekgGhwQ4B6pZWND6zgESBuWiHw",
            "AQAAAAIAAAD6AAAAIJbVi5wbMR+htSfFp8fTw8N8GOS/Sje+S/4YZcgBfU7EQuqv4OkVYmc4VJl9AGZzmRTxSkP7LtVi9IWyUxX8IAAfZ8v+ZfhjCcudtC1YERSqE1OEdXLW9VukPuJWBBjLuw==",
            "AQAAAAAAAAD6AAAAEAhftMyfTJylOlZT+eEotFXd1elee8ih5WsjXaR3PA9M",
            "AQAAAAEAA9CQAAAAIESkQuj2Du8Y+kbc5lcN/W/3NiAZFEm11P27nrSN5/tId+bR1SwV8CO1Jd72r4C08OLvplNlCDc3oQZ8efcW+jQ=",
        ] {
            assert_eq!(verify_as("aspnet_identity", "my password", ok), Ok(true), "{ok}");
            assert_eq!(verify_as("aspnet_identity", "my password!", ok), Ok(false), "{ok}");
        }
        // the failure cases: a wrong key, too short, extra data at the end
        for bad in [
            "AAABAgMEBQYHCAkKCwwNDg+uAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAALtH1uJg==",
            "AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggE=",
            "AAABAgMEBQYHCAkKCwwNDg+ukCEMDf0yyQ29NYubggHIVY0sdEUfdyeM+E1LtH1uJgAAAAAAAAAAAAA=",
            "AQAAAAAAAAD6AAAAEAhftMyfTJyAAAAAAAAAAAAAAAAAAAih5WsjXaR3PA9M",
            "AQAAAAIAAAAyAAAAEOMwvh3+FZxqkdMBz2ekgGhwQ4A=",
            "AQAAAAIAAAAyAAAAEOMwvh3+FZxqkdMBz2ekgGhwQ4B6pZWND6zgESBuWiHwAAAAAAAAAAAA",
        ] {
            assert_ne!(
                verify_as("aspnet_identity", "my password", bad),
                Ok(true),
                "{bad}"
            );
        }
    }

    #[test]
    fn first_round_formats_are_held_to_the_second_rounds_caps() {
        let costly = |r: Result<bool, HashError>| matches!(r, Err(HashError::TooCostly { .. }));
        let long = kdf::base64_encode_nopad(&[7u8; 65]);
        // a PBKDF2 key over 64 bytes, in Django's and passlib's forms
        assert!(costly(verify(
            "x",
            &format!("pbkdf2_sha256$1000$salt${long}")
        )));
        assert!(costly(verify(
            "x",
            &format!("$pbkdf2-sha256$1000$c2FsdA${long}")
        )));
        // Argon2 past t = 16 or p = 16
        let h = "c29tZXNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI";
        assert!(costly(verify(
            "x",
            &format!("$argon2id$v=19$m=64,t=17,p=1${h}")
        )));
        assert!(costly(verify(
            "x",
            &format!("$argon2id$v=19$m=1024,t=1,p=17${h}")
        )));
        // an scrypt output over 1024 bytes
        let out = kdf::base64_encode_nopad(&[7u8; 1025]);
        assert!(costly(verify(
            "x",
            &format!("$scrypt$ln=4,r=8,p=1$c2FsdA${out}")
        )));
    }

    #[test]
    fn needs_rehash_never_fails() {
        for stored in [
            "",
            "x",
            "{bcrypt}$2y$04$abc",
            "$2y$99$x",
            "$argon2id$garbage",
            "{MD4}x",
        ] {
            assert!(needs_rehash(stored, BCRYPT), "{stored}");
            assert!(needs_rehash(stored, ARGON), "{stored}");
        }
    }

    #[test]
    fn second_round_costs_past_the_caps_are_refused() {
        let costly = |r: Result<bool, HashError>| matches!(r, Err(HashError::TooCostly { .. }));
        // Drupal: count character `N` is 2^25
        assert!(costly(verify(
            "x",
            "$S$NabcdefghABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
        )));
        // yescrypt at N = 2^19, r = 32: 2 GiB
        assert!(costly(verify(
            "x",
            "$y$jGT$F5Jx5fExrKuPp53xLKQ..1$U4SOHmDd8SvW5vCUKSMR6N835VPwFAtgYNhQ9mFFeL5"
        )));
        // yescrypt's time cost (t ~ 2^30 here) cannot be bounded: longer
        // parameters than flags, N and r are refused
        assert!(costly(verify(
            "x",
            "$y$j9T/zzzzzz$F5Jx5fExrKuPp53xLKQ..1$U4SOHmDd8SvW5vCUKSMR6N835VPwFAtgYNhQ9mFFeL5"
        )));
        assert!(costly(verify("x", "{PBKDF2-SHA256}5000001$c2FsdA$aGFzaA")));
        assert!(costly(verify("x", "{scrypt}$150801$c2FsdA==$aGFzaA==")));
        assert!(costly(verify_as("magento2", "x", "ab:cd:0:1:0:1:0")));
        assert!(costly(verify_as(
            "magento2",
            "x",
            "ab:cd:3_32_2_999999999999"
        )));
        let v3 = |rounds: u32| {
            let mut blob = vec![1u8];
            blob.extend(1u32.to_be_bytes());
            blob.extend(rounds.to_be_bytes());
            blob.extend(16u32.to_be_bytes());
            blob.extend([7u8; 48]);
            kdf::base64_encode(&blob)
        };
        assert!(costly(verify_as("aspnet_identity", "x", &v3(5_000_001))));
        let cred = serde_json::json!({"hashIterations": 5, "algorithm": "argon2", "additionalParameters": {
            "hashLength": ["32"], "memory": ["300000"], "type": ["id"], "version": ["1.3"], "parallelism": ["1"]}});
        let secret = serde_json::json!({"value": "AAAA", "salt": "c2FsdHNhbHQ="});
        assert!(costly(verify_keycloak("x", &secret, &cred)));
        let unknown = serde_json::json!({"hashIterations": 5, "algorithm": "md4"});
        assert!(matches!(
            verify_keycloak("x", &secret, &unknown),
            Err(HashError::UnknownName(_))
        ));
        let missing = serde_json::json!({"algorithm": "pbkdf2"});
        assert_eq!(
            verify_keycloak("x", &secret, &missing),
            Err(HashError::MissingField("hashIterations".into()))
        );
    }

    #[test]
    fn a_drupal_s_hash_verifies_and_its_time_is_printed() {
        // $S$D: 2^15 SHA-512 steps; measured, not a timing target
        let vector = LEGACY
            .lines()
            .find(|l| l.starts_with("drupal7_S\t"))
            .unwrap();
        let fields: Vec<&str> = vector.split('\t').collect();
        let started = std::time::Instant::now();
        assert_eq!(verify(fields[2], fields[3]), Ok(true));
        eprintln!("Drupal $S$D verify: {:?}", started.elapsed());
    }

    #[test]
    fn costs_past_the_caps_are_refused() {
        let cases = [
            "$2y$17$abcdefghijklmnopqrstuu5Bz1ON1jKvQX0rGUqHKJ8Tc6hJ8rGie",
            "$wp$2y$17$abcdefghijklmnopqrstuu5Bz1ON1jKvQX0rGUqHKJ8Tc6hJ8rGie",
            "$argon2id$v=19$m=524288,t=2,p=1$c29tZXNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
            "argon2$argon2id$v=19$m=524288,t=2,p=1$c29tZXNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI",
            "$scrypt$ln=21,r=8,p=1$c2FsdA$aGFzaA",
            "$scrypt$ln=16,r=256,p=1$c2FsdA$aGFzaA",
            "$5$rounds=5000001$salt$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ",
            "$6$rounds=999999999$salt$abc",
            "pbkdf2_sha256$5000001$salt$aGFzaA==",
            "$pbkdf2-sha512$9000000$c2FsdA$aGFzaA",
            "$P$Oabcdefgh0123456789012345678901",
        ];
        for stored in cases {
            let started = std::time::Instant::now();
            match verify("pw", stored) {
                Err(HashError::TooCostly { .. }) => {}
                other => panic!("{stored}: {other:?}"),
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(1),
                "{stored} was computed"
            );
        }
    }

    #[test]
    fn a_hash_inside_a_longer_text_is_found_and_prose_is_not_one() {
        let bcrypt = "$2b$10$Wa/Qas3cAcaRpNxqgBnwees/dvqAswyPiG0rMzqLZnyLqAuWj/gWK";
        for holds in [
            format!("old:{bcrypt}"),
            format!("old:{}", &bcrypt[..59]),
            format!("{bcrypt},x=1"),
            "x{noop}pw".to_string(),
            "was $argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG then"
                .into(),
        ] {
            assert!(holds_hash(&holds), "{holds}");
        }
        for prose in [
            "$5$ off",
            "a $1$-dimensional subspace",
            "the $y$-intercept is",
            "Widgets $1$each-or-$10-for-12",
            "the $H$-infinity-norm",
            "$1$2/path-and-more",
            "https://example.com/{id}/avatar.png",
            "no dollar at all",
        ] {
            assert!(!holds_hash(prose), "{prose}");
        }
        // linear: a long text of prefixes is looked at once
        let long = format!("{}{}", "{a}".repeat(300_000), "$argon2x".repeat(100_000));
        assert!(!holds_hash(&long));
    }

    #[test]
    fn malformed_hashes_are_errors_not_panics() {
        for stored in [
            "$2y$10$short",
            "$argon2id$v=19$garbage",
            "$scrypt$ln=x$a$b",
            "$scrypt$ln=4,r=8,p=1$c2FsdA$",
            "$5$$",
            "$1$",
            "$1$saltonly",
            "pbkdf2_sha256$abc$salt$hash",
            "pbkdf2_sha256$1000$salt",
            "$pbkdf2-sha256$1000$!!$!!",
            "bcrypt_sha256$$2b$12$nope",
            "$wp$2y$10$nope",
            "$P$\u{e9}abcdefgh012345678901234567890",
        ] {
            assert!(verify("pw", stored).is_err(), "{stored}");
        }
    }

    /// Values cut short or grown by a character under a known prefix: each
    /// a malformed value of its format, never `false` (which would hide a
    /// damaged column) nor a comparison of the stored part's own length
    /// (a 1-byte key matches one wrong password in 256). The full values
    /// are passlib's and libxcrypt's (hashes.tsv, legacy.tsv).
    #[test]
    fn a_digest_of_the_wrong_length_or_alphabet_is_malformed() {
        let full = |label: &str| -> String {
            VECTORS
                .lines()
                .chain(LEGACY.lines())
                .find_map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    let stored = if f.len() == 3 { f[2] } else { f[3] };
                    (f[0] == label).then(|| stored.to_string())
                })
                .unwrap_or_else(|| panic!("no vector {label}"))
        };
        let cases = [
            "passlib_pbkdf2_sha256",
            "passlib_pbkdf2_sha1",
            "passlib_django_pbkdf2_sha256",
            "passlib_ldap_pbkdf2_sha256",
            "passlib_scrypt",
            "passlib_md5_crypt",
            "passlib_sha256_crypt",
            "passlib_sha512_crypt_rounds",
            "passlib_phpass_P",
            "drupal7_S",
            "yescrypt",
        ];
        for label in cases {
            let stored = full(label);
            assert_eq!(
                verify("correct horse battery staple", &stored),
                Ok(true),
                "{label}"
            );
            // a base64 or crypt64 quantum less
            let cut = &stored[..stored.len() - 4];
            let grown = format!("{stored}a");
            // the right length, one character outside the alphabet
            let stray = format!("{}!", &stored[..stored.len() - 1]);
            // a PBKDF2 or scrypt key may be any length of 16 bytes or more
            // (the writers choose), and a shorter key is a prefix of a
            // longer one: a value cut or grown by a quantum is a
            // well-formed value of another length
            let keyed = [
                "passlib_scrypt",
                "passlib_pbkdf2_sha256",
                "passlib_pbkdf2_sha1",
                "passlib_django_pbkdf2_sha256",
                "passlib_ldap_pbkdf2_sha256",
            ];
            let bads = if keyed.contains(&label) {
                vec![stray.as_str()]
            } else {
                vec![cut, grown.as_str(), stray.as_str()]
            };
            for bad in bads {
                let verdict = verify("correct horse battery staple", bad);
                assert!(
                    matches!(verdict, Err(HashError::Malformed(_))),
                    "{label}: {bad} gave {verdict:?}"
                );
            }
        }
        // a key of one byte: its base64 is two characters
        for stored in [
            "{scrypt}$e0801$c2FsdA==$qQ==",
            "$pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0c2FsdA$BA",
            "pbkdf2_sha256$1000$saltsalt$qQ==",
            "{PBKDF2-SHA256}1000$c2FsdHNhbHRzYWx0c2FsdA$BA",
            "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$rg",
        ] {
            let verdict = verify("guess", stored);
            assert!(
                matches!(verdict, Err(HashError::Malformed(_))),
                "{stored}: {verdict:?}"
            );
        }
    }

    /// A PHC Argon2 value without `v=` is Argon2 1.0's encoding: the
    /// reference code (libargon2, PHP) reads it as version 16. The first
    /// value is the reference implementation's own version-16 vector
    /// (phc-winner-argon2, src/test.c); the second, PHP's v=19 hash with its
    /// `v=19` taken out, no longer matches.
    #[test]
    fn an_argon2_value_without_a_version_is_version_16() {
        let v16 =
            "$argon2i$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
        assert_eq!(verify("password", v16), Ok(true));
        assert_eq!(verify("passwore", v16), Ok(false));
        let v19 = VECTORS
            .lines()
            .find_map(|l| l.strip_prefix("php_argon2id\tcorrect horse battery staple\t"))
            .unwrap();
        assert_eq!(verify("correct horse battery staple", v19), Ok(true));
        let versionless = v19.replace("$v=19$", "$");
        assert_eq!(
            verify("correct horse battery staple", &versionless),
            Ok(false)
        );
    }
}
