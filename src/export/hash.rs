//! What an exported user's stored hash is, parsed once (`Stored`), and how
//! each target platform receives it, in its own hash description; or why it
//! cannot (the report's reason and detail). Values are never part of a
//! reason.

use serde_json::{json, Value};

use super::Target;
use crate::password;
use crate::password::kdf::{self, Digest};

/// Why a hash is not in the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCarried {
    /// `no_password_hash`
    None,
    /// `hash_unknown_format`, with its detail
    Unknown(String),
    /// `hash_not_importable`, with its detail
    NotImportable(String),
}

impl NotCarried {
    /// The report's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            NotCarried::None => "no_password_hash",
            NotCarried::Unknown(_) => "hash_unknown_format",
            NotCarried::NotImportable(_) => "hash_not_importable",
        }
    }

    /// The report's detail.
    pub fn detail(&self) -> &str {
        match self {
            NotCarried::None => "",
            NotCarried::Unknown(d) | NotCarried::NotImportable(d) => d,
        }
    }
}

/// A stored hash, parsed.
#[derive(Debug, Clone)]
pub enum Stored {
    Bcrypt {
        full: String,
        cost: u32,
        salt: String,
        hash: String,
    },
    Bcrypt2x,
    Argon2 {
        /// the PHC string (Django's prefix taken off)
        phc: String,
        variant: &'static str,
        version: u32,
        m: u32,
        t: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
        django: bool,
    },
    Scrypt {
        ln: u32,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        key: Vec<u8>,
    },
    Pbkdf2 {
        digest: Digest,
        iterations: u64,
        salt: Vec<u8>,
        key: Vec<u8>,
        django: bool,
    },
    ShaCrypt {
        bits: u32,
        rounds: Option<u64>,
        salt: String,
        hash: String,
    },
    Md5Crypt {
        salt: String,
        hash: String,
    },
    Phpass {
        count: u32,
        salt: String,
        digest: Vec<u8>,
    },
    /// `{SHA}`, `{SSHA}` and kin: digest of password ‖ salt
    Ldap {
        digest: Digest,
        value: Vec<u8>,
        salt: Vec<u8>,
        /// The value as OpenLDAP writes it: the name in capitals, the body
        /// in padded base64 (what was stored, when it was written so).
        stored: String,
        salted: bool,
    },
    /// A descriptor of a home-made digest.
    Descriptor(Descriptor),
    /// Known by its shape but carried by no target.
    Other(&'static str),
}

#[derive(Debug, Clone)]
pub struct Descriptor {
    pub algorithm: String,
    pub digest: Digest,
    pub hmac: bool,
    pub value: Vec<u8>,
    /// the digest as stored, and its encoding (`hex` or `base64`)
    pub value_text: String,
    pub encoding: String,
    pub salt: Option<(Vec<u8>, String, String)>,
    pub suffix: bool,
    pub key: Option<(Vec<u8>, String, String)>,
}

fn ab64(text: &str) -> Option<Vec<u8>> {
    kdf::base64_decode(&text.replace('.', "+"))
}

/// Parses a stored hash string. A string in none of the forms of the
/// export's table, or malformed in the form its prefix names, is
/// `hash_unknown_format`, told by its length only: no part of a hash ever
/// reaches the report. That includes forms the login verifier knows but no
/// target takes, as Drupal's `$S$` or yescrypt.
pub fn parse(stored: &str) -> Result<Stored, NotCarried> {
    parse_shape(stored)
        .and_then(|parsed| match well_formed(&parsed) {
            true => Ok(parsed),
            false => Err(NotCarried::Unknown(String::new())),
        })
        .map_err(|e| match e {
            NotCarried::Unknown(_) => NotCarried::Unknown(format!(
                "unrecognized, {} characters",
                stored.chars().count()
            )),
            other => other,
        })
}

/// Whether a value of a known shape holds what its form requires, as
/// `password::verify` would find it: a cost in its range, a non-empty key of
/// the right alphabet and size. A malformed value carried would be refused
/// by the platform's import, or worse: Kratos compares a PBKDF2 key of
/// length 0 to an empty key, and any password would match.
fn well_formed(stored: &Stored) -> bool {
    match stored {
        Stored::Bcrypt { full, cost, .. } => {
            (4..=31).contains(cost) && full.parse::<bcrypt::HashParts>().is_ok()
        }
        Stored::Argon2 {
            version,
            m,
            t,
            p,
            salt,
            hash,
            ..
        } => {
            // the reference implementation's bounds
            [16, 19].contains(version)
                && *t >= 1
                && (1..=0x00ff_ffff).contains(p)
                && *m >= 8 * *p
                && salt.len() >= 8
                && hash.len() >= 4
        }
        Stored::Scrypt {
            ln,
            r,
            p,
            salt,
            key,
        } => {
            *ln >= 1
                && *r >= 1
                && *p >= 1
                && !salt.is_empty()
                && key.len() >= password::MIN_KEY_BYTES
        }
        Stored::Pbkdf2 {
            iterations, key, ..
        } => *iterations >= 1 && key.len() >= password::MIN_KEY_BYTES,
        Stored::ShaCrypt {
            bits, rounds, hash, ..
        } => {
            rounds.is_none_or(|r| r >= 1)
                && kdf::is_crypt64(hash, if *bits == 256 { 43 } else { 86 })
        }
        Stored::Md5Crypt { hash, .. } => kdf::is_crypt64(hash, 22),
        Stored::Phpass { count, .. } => (7..=30).contains(count),
        Stored::Bcrypt2x | Stored::Ldap { .. } | Stored::Descriptor(_) | Stored::Other(_) => true,
    }
}

/// [`parse`]'s work; its `Unknown` details are worded by [`parse`].
fn parse_shape(stored: &str) -> Result<Stored, NotCarried> {
    if stored.is_empty() {
        return Err(NotCarried::None);
    }
    let unknown = || NotCarried::Unknown(String::new());
    // The fixed-width forms below are sliced by position: only ASCII text
    // can be (anything else is no hash of theirs).
    let ascii = stored.is_ascii();
    if ascii
        && stored.len() == 60
        && ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
    {
        let cost = stored[4..6].parse().map_err(|_| unknown())?;
        return Ok(Stored::Bcrypt {
            full: stored.to_string(),
            cost,
            salt: stored[7..29].to_string(),
            hash: stored[29..].to_string(),
        });
    }
    if stored.len() == 60 && stored.starts_with("$2x$") {
        return Ok(Stored::Bcrypt2x);
    }
    let (phc, django) = match stored.strip_prefix("argon2$") {
        Some(rest) if rest.starts_with("argon2") => (format!("${rest}"), true),
        _ => (stored.to_string(), false),
    };
    if ["$argon2id$", "$argon2i$", "$argon2d$"]
        .iter()
        .any(|p| phc.starts_with(p))
    {
        return argon2(&phc, django).ok_or_else(unknown);
    }
    if let Some(rest) = stored.strip_prefix("$scrypt$") {
        let parts: Vec<&str> = rest.split('$').collect();
        let [params, salt, key] = parts[..] else {
            return Err(unknown());
        };
        let (mut ln, mut r, mut p) = (None, 8, 1);
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("ln", v)) => ln = v.parse().ok(),
                Some(("r", v)) => r = v.parse().map_err(|_| unknown())?,
                Some(("p", v)) => p = v.parse().map_err(|_| unknown())?,
                _ => return Err(unknown()),
            }
        }
        return Ok(Stored::Scrypt {
            // 2^ln must be a number: past 63 it is no real hash
            ln: ln.filter(|ln: &u32| *ln < 64).ok_or_else(unknown)?,
            r,
            p,
            salt: ab64(salt).ok_or_else(unknown)?,
            key: ab64(key).ok_or_else(unknown)?,
        });
    }
    for (prefix, digest) in [
        ("$pbkdf2-sha256$", Digest::Sha256),
        ("$pbkdf2-sha512$", Digest::Sha512),
        ("$pbkdf2$", Digest::Sha1),
    ] {
        if let Some(rest) = stored.strip_prefix(prefix) {
            return pbkdf2(rest, digest, ab64, ab64, false);
        }
    }
    for (prefix, digest) in [
        ("pbkdf2_sha256$", Digest::Sha256),
        ("pbkdf2_sha1$", Digest::Sha1),
    ] {
        if let Some(rest) = stored.strip_prefix(prefix) {
            // Django's salt is text, used as it is
            let text = |s: &str| Some(s.as_bytes().to_vec());
            return pbkdf2(rest, digest, text, kdf::base64_decode, true);
        }
    }
    if stored.starts_with("bcrypt_sha256$") {
        return Ok(Stored::Other("django-bcrypt-sha256"));
    }
    for (prefix, bits) in [("$5$", 256), ("$6$", 512)] {
        if let Some(rest) = stored.strip_prefix(prefix) {
            let parts: Vec<&str> = rest.split('$').collect();
            let (rounds, salt, hash) = match parts[..] {
                [r, salt, hash] if r.starts_with("rounds=") => {
                    (Some(r[7..].parse().map_err(|_| unknown())?), salt, hash)
                }
                [salt, hash] => (None, salt, hash),
                _ => return Err(unknown()),
            };
            return Ok(Stored::ShaCrypt {
                bits,
                rounds,
                salt: salt.to_string(),
                hash: hash.to_string(),
            });
        }
    }
    if let Some(rest) = stored.strip_prefix("$1$") {
        let (salt, hash) = rest.split_once('$').ok_or_else(unknown)?;
        return Ok(Stored::Md5Crypt {
            salt: salt.to_string(),
            hash: hash.to_string(),
        });
    }
    if ascii && stored.len() == 34 && (stored.starts_with("$P$") || stored.starts_with("$H$")) {
        let count = kdf::itoa64_index(stored.as_bytes()[3]).ok_or_else(unknown)?;
        let digest = kdf::crypt64_decode(&stored[12..]).ok_or_else(unknown)?;
        return Ok(Stored::Phpass {
            count,
            salt: stored[4..12].to_string(),
            digest: digest.into_iter().take(16).collect(),
        });
    }
    if stored.starts_with("$wp$2") {
        return Ok(Stored::Other("wordpress-bcrypt"));
    }
    if let Some(rest) = stored.strip_prefix('{') {
        if let Some((name, body)) = rest.split_once('}') {
            // a crypt form under {CRYPT} is that form
            if name.eq_ignore_ascii_case("crypt") {
                // one level: a crypt form, never another braced value
                // and never empty: that is a malformed value, not no hash
                if body.starts_with('{') || body.is_empty() {
                    return Err(unknown());
                }
                return parse_shape(body);
            }
            let pbkdf2 = match name.to_ascii_lowercase().as_str() {
                "pbkdf2" | "pbkdf2-sha1" => Some(Digest::Sha1),
                "pbkdf2-sha256" => Some(Digest::Sha256),
                "pbkdf2-sha512" => Some(Digest::Sha512),
                _ => None,
            };
            if let Some(digest) = pbkdf2 {
                return self::pbkdf2(body, digest, ab64, ab64, false);
            }
            let (digest, salted) = match name.to_ascii_lowercase().as_str() {
                "sha" => (Digest::Sha1, false),
                "ssha" => (Digest::Sha1, true),
                "sha256" => (Digest::Sha256, false),
                "ssha256" => (Digest::Sha256, true),
                "sha512" => (Digest::Sha512, false),
                "ssha512" => (Digest::Sha512, true),
                "md5" => (Digest::Md5, false),
                "smd5" => (Digest::Md5, true),
                _ => return Err(unknown()),
            };
            let raw = kdf::base64_decode(body).ok_or_else(unknown)?;
            let ok = if salted {
                raw.len() > digest.size()
            } else {
                raw.len() == digest.size()
            };
            if !ok {
                return Err(unknown());
            }
            let (value, salt) = raw.split_at(digest.size());
            // Written again as OpenLDAP writes it (the name in capitals,
            // padded base64): Kratos matches the name with its case and
            // decodes padded base64 only, so `{ssha}…` or an unpadded body
            // carried as stored would be refused by its import, or never
            // log in.
            let name = match digest {
                Digest::Sha1 => "SHA",
                Digest::Sha256 => "SHA256",
                Digest::Sha384 => "SHA384",
                Digest::Sha512 => "SHA512",
                Digest::Md5 => "MD5",
            };
            let canonical = format!(
                "{{{}{name}}}{}",
                if salted { "S" } else { "" },
                kdf::base64_encode(&raw)
            );
            return Ok(Stored::Ldap {
                digest,
                value: value.to_vec(),
                salt: salt.to_vec(),
                stored: canonical,
                salted,
            });
        }
    }
    Err(unknown())
}

/// `rounds$salt$key`, the salt and key decoded as their form has them.
fn pbkdf2(
    rest: &str,
    digest: Digest,
    salt: impl Fn(&str) -> Option<Vec<u8>>,
    key: impl Fn(&str) -> Option<Vec<u8>>,
    django: bool,
) -> Result<Stored, NotCarried> {
    let bad = || NotCarried::Unknown(String::new());
    let parts: Vec<&str> = rest.split('$').collect();
    let [rounds, s, k] = parts[..] else {
        return Err(bad());
    };
    Ok(Stored::Pbkdf2 {
        digest,
        iterations: rounds.parse().map_err(|_| bad())?,
        salt: salt(s).ok_or_else(bad)?,
        key: key(k).ok_or_else(bad)?,
        django,
    })
}

fn argon2(phc: &str, django: bool) -> Option<Stored> {
    let parts: Vec<&str> = phc.split('$').collect();
    // ["", variant, "v=19", "m=..,t=..,p=..", salt, hash], or without the
    // version: Argon2 1.0's encoding, which the reference code reads as 16
    let (variant, version, params, salt, hash) = match parts[..] {
        [_, variant, version, params, salt, hash] => {
            let version: u32 = version.strip_prefix("v=")?.parse().ok()?;
            (variant, version, params, salt, hash)
        }
        [_, variant, params, salt, hash] => (variant, 16, params, salt, hash),
        _ => return None,
    };
    let variant = match variant {
        "argon2id" => "argon2id",
        "argon2i" => "argon2i",
        "argon2d" => "argon2d",
        _ => return None,
    };
    let (mut m, mut t, mut p) = (None, None, None);
    for kv in params.split(',') {
        match kv.split_once('=')? {
            ("m", v) => m = v.parse().ok(),
            ("t", v) => t = v.parse().ok(),
            ("p", v) => p = v.parse().ok(),
            _ => {}
        }
    }
    Some(Stored::Argon2 {
        phc: phc.to_string(),
        variant,
        version,
        m: m?,
        t: t?,
        p: p?,
        salt: kdf::base64_decode(salt)?,
        hash: kdf::base64_decode(hash)?,
        django,
    })
}

/// A descriptor map (already as JSON), for home-made digests.
pub fn descriptor(map: &serde_json::Map<String, Value>) -> Result<Stored, NotCarried> {
    let field = |f: &str| NotCarried::Unknown(format!("descriptor: {f}"));
    let text = |f: &str| -> Result<Option<String>, NotCarried> {
        match map.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(field(f)),
        }
    };
    for key in map.keys() {
        if ![
            "algorithm",
            "value",
            "encoding",
            "salt",
            "salt_encoding",
            "salt_position",
            "key",
            "key_encoding",
        ]
        .contains(&key.as_str())
        {
            return Err(field(key));
        }
    }
    let algorithm = text("algorithm")?.ok_or_else(|| field("algorithm"))?;
    let (hmac, name) = match algorithm.strip_prefix("hmac-") {
        Some(d) => (true, d),
        None => (false, algorithm.as_str()),
    };
    let digest = Digest::parse(name)
        .filter(|d| *d != Digest::Sha384)
        .ok_or_else(|| field("algorithm"))?;
    let encoding = text("encoding")?.unwrap_or_else(|| "hex".into());
    let value_text = text("value")?.ok_or_else(|| field("value"))?;
    let value = match encoding.as_str() {
        "hex" => kdf::hex_decode(&value_text),
        "base64" => kdf::base64_decode(&value_text),
        _ => return Err(field("encoding")),
    }
    .filter(|v| v.len() == digest.size())
    .ok_or_else(|| field("value"))?;
    // base64 is carried padded, as every platform decodes it
    let value_text = if encoding == "base64" {
        kdf::base64_encode(&value)
    } else {
        value_text
    };
    let bytes =
        |value_key: &str, enc_key: &str| -> Result<Option<(Vec<u8>, String, String)>, NotCarried> {
            let Some(v) = text(value_key)? else {
                return Ok(None);
            };
            let enc = text(enc_key)?.unwrap_or_else(|| "utf8".into());
            let raw = match enc.as_str() {
                "utf8" => Some(v.as_bytes().to_vec()),
                "hex" => kdf::hex_decode(&v),
                "base64" => kdf::base64_decode(&v),
                _ => return Err(field(enc_key)),
            }
            .ok_or_else(|| field(value_key))?;
            let v = if enc == "base64" {
                kdf::base64_encode(&raw)
            } else {
                v
            };
            Ok(Some((raw, v, enc)))
        };
    // An empty salt is no salt, on every platform alike.
    let salt = bytes("salt", "salt_encoding")?.filter(|(raw, _, _)| !raw.is_empty());
    let key = bytes("key", "key_encoding")?;
    let suffix = match text("salt_position")?.as_deref() {
        None | Some("prefix") => false,
        Some("suffix") => true,
        Some(_) => return Err(field("salt_position")),
    };
    if hmac && (key.is_none() || salt.is_some()) {
        return Err(field(if key.is_none() { "key" } else { "salt" }));
    }
    if !hmac && key.is_some() {
        return Err(field("key"));
    }
    Ok(Stored::Descriptor(Descriptor {
        algorithm,
        digest,
        hmac,
        value,
        value_text,
        encoding,
        salt,
        suffix,
        key,
    }))
}

impl Stored {
    /// The format's name in the report.
    pub fn name(&self) -> String {
        match self {
            Stored::Bcrypt { .. } => "bcrypt".into(),
            Stored::Bcrypt2x => "bcrypt-2x".into(),
            Stored::Argon2 { django: true, .. } => "django-argon2".into(),
            Stored::Argon2 { variant, .. } => (*variant).into(),
            Stored::Scrypt { .. } => "scrypt".into(),
            Stored::Pbkdf2 { digest, django, .. } => format!(
                "{}pbkdf2-{}",
                if *django { "django-" } else { "" },
                digest.name()
            ),
            Stored::ShaCrypt { bits, .. } => format!("sha{bits}-crypt"),
            Stored::Md5Crypt { .. } => "md5-crypt".into(),
            Stored::Phpass { .. } => "phpass".into(),
            Stored::Ldap { digest, salted, .. } => format!(
                "ldap-{}{}",
                if *salted { "s" } else { "" },
                match digest {
                    Digest::Sha1 => "sha",
                    Digest::Md5 => "md5",
                    d => d.name(),
                }
            ),
            Stored::Descriptor(d) => d.algorithm.clone(),
            Stored::Other(name) => (*name).into(),
        }
    }

    fn not(&self, why: Option<String>) -> NotCarried {
        NotCarried::NotImportable(match why {
            Some(why) => format!("{}: {why}", self.name()),
            None => self.name(),
        })
    }

    /// How `target` receives this hash.
    pub fn for_target(&self, target: Target) -> Result<Value, NotCarried> {
        match target {
            Target::Auth0 => self.auth0(),
            Target::Okta => self.okta(),
            Target::Kratos => self.kratos().map(Value::String),
            Target::FusionAuth => self.fusionauth(),
            Target::Keycloak => self.keycloak(),
        }
    }

    fn auth0(&self) -> Result<Value, NotCarried> {
        let utf8 = |algorithm: &str, value: &str| json!({ "algorithm": algorithm, "hash": { "value": value, "encoding": "utf8" } });
        Ok(match self {
            Stored::Bcrypt { full, .. } => utf8("bcrypt", full),
            Stored::Argon2 { variant, phc, .. } if *variant != "argon2d" => utf8("argon2", phc),
            Stored::Ldap { stored, .. } => utf8("ldap", stored),
            Stored::Pbkdf2 { .. } => utf8("pbkdf2", &phc_pbkdf2(self)),
            Stored::Scrypt {
                ln,
                r,
                p,
                salt,
                key,
            } => json!({
                "algorithm": "scrypt",
                "hash": { "value": kdf::base64_encode(key), "encoding": "base64" },
                "salt": { "value": kdf::base64_encode(salt), "encoding": "base64" },
                "keylen": key.len(),
                "cost": 1u64 << ln,
                "blockSize": r,
                "parallelization": p,
            }),
            Stored::Descriptor(d) if d.hmac => {
                let (_, key, key_encoding) = d.key.clone().unwrap_or_default();
                json!({
                    "algorithm": "hmac",
                    "hash": {
                        "value": d.value_text,
                        "encoding": d.encoding,
                        "digest": d.digest.name(),
                        "key": { "value": key, "encoding": key_encoding },
                    },
                })
            }
            Stored::Descriptor(d) => {
                let mut h = json!({
                    "algorithm": d.digest.name(),
                    "hash": { "value": d.value_text, "encoding": d.encoding },
                });
                if let Some((_, salt, encoding)) = &d.salt {
                    h["salt"] = json!({
                        "value": salt,
                        "encoding": encoding,
                        "position": if d.suffix { "suffix" } else { "prefix" },
                    });
                }
                h
            }
            _ => return Err(self.not(None)),
        })
    }

    fn okta(&self) -> Result<Value, NotCarried> {
        let sha = |d: Digest| match d {
            Digest::Md5 => Some("MD5"),
            Digest::Sha1 => Some("SHA-1"),
            Digest::Sha256 => Some("SHA-256"),
            Digest::Sha512 => Some("SHA-512"),
            Digest::Sha384 => None,
        };
        let digest_object =
            |d: Digest, value: &[u8], salt: &[u8], postfix: bool| -> Result<Value, NotCarried> {
                let mut h = json!({
                    "algorithm": sha(d).ok_or_else(|| self.not(None))?,
                    "value": kdf::base64_encode(value),
                });
                if !salt.is_empty() {
                    h["salt"] = kdf::base64_encode(salt).into();
                    h["saltOrder"] = if postfix { "POSTFIX" } else { "PREFIX" }.into();
                }
                Ok(h)
            };
        match self {
            Stored::Bcrypt {
                cost, salt, hash, ..
            } => Ok(json!({
                "algorithm": "BCRYPT", "workFactor": cost, "salt": salt, "value": hash,
            })),
            Stored::Ldap {
                digest,
                value,
                salt,
                ..
            } => digest_object(*digest, value, salt, true),
            Stored::Descriptor(d) if !d.hmac => {
                let salt = d.salt.as_ref().map(|s| s.0.clone()).unwrap_or_default();
                digest_object(d.digest, &d.value, &salt, d.suffix)
            }
            Stored::Pbkdf2 {
                digest,
                iterations,
                salt,
                key,
                ..
            } => {
                let algorithm = match digest {
                    Digest::Sha256 => "SHA256_HMAC",
                    Digest::Sha512 => "SHA512_HMAC",
                    _ => return Err(self.not(None)),
                };
                if *iterations < 4096 {
                    return Err(self.not(Some(format!("{iterations} iterations, Okta needs 4096"))));
                }
                Ok(json!({
                    "algorithm": "PBKDF2",
                    "digestAlgorithm": algorithm,
                    "iterationCount": iterations,
                    "keySize": key.len(),
                    "salt": kdf::base64_encode(salt),
                    "value": kdf::base64_encode(key),
                }))
            }
            _ => Err(self.not(None)),
        }
    }

    fn kratos(&self) -> Result<String, NotCarried> {
        let b64 = kdf::base64_encode;
        let pf = |salt: &[u8], suffix: bool| {
            let template = match (salt.is_empty(), suffix) {
                (true, _) => "{PASSWORD}",
                (false, true) => "{PASSWORD}{SALT}",
                (false, false) => "{SALT}{PASSWORD}",
            };
            b64(template.as_bytes())
        };
        let sha = |d: Digest, value: &[u8], salt: &[u8], suffix: bool| match d {
            Digest::Md5 if salt.is_empty() => format!("$md5${}", b64(value)),
            d => format!(
                "${}$pf={}${}${}",
                d.name(),
                pf(salt, suffix),
                b64(salt),
                b64(value)
            ),
        };
        Ok(match self {
            Stored::Bcrypt { full, .. } => full.clone(),
            Stored::Argon2 {
                variant,
                version: 19,
                phc,
                ..
            } if *variant != "argon2d" => phc.clone(),
            // Kratos's comparator reads version 19 only
            Stored::Argon2 {
                variant, version, ..
            } if *variant != "argon2d" => {
                return Err(self.not(Some(format!("v={version}, Kratos reads v=19 only"))));
            }
            Stored::Scrypt {
                ln,
                r,
                p,
                salt,
                key,
            } => format!(
                "$scrypt$ln={},r={r},p={p}${}${}",
                1u64 << ln,
                b64(salt),
                b64(key)
            ),
            Stored::Pbkdf2 { .. } => phc_pbkdf2(self),
            Stored::ShaCrypt {
                bits,
                rounds,
                salt,
                hash,
            } => format!(
                "$sha{bits}-crypt$rounds={}${salt}${hash}",
                rounds.unwrap_or(5000)
            ),
            Stored::Md5Crypt { salt, hash } => format!("$md5-crypt${salt}${hash}"),
            Stored::Ldap {
                stored,
                salted: true,
                digest,
                ..
            } if *digest != Digest::Md5 => stored.clone(),
            Stored::Ldap {
                digest,
                value,
                salt,
                ..
            } => sha(*digest, value, salt, true),
            Stored::Descriptor(d) if d.hmac => {
                let (key, _, _) = d.key.clone().unwrap_or_default();
                format!(
                    "$hmac-{}${}${}",
                    d.digest.name(),
                    b64(kdf::hex_encode(&d.value).as_bytes()),
                    b64(&key)
                )
            }
            Stored::Descriptor(d) => {
                let salt = d.salt.as_ref().map(|s| s.0.clone()).unwrap_or_default();
                sha(d.digest, &d.value, &salt, d.suffix)
            }
            _ => return Err(self.not(None)),
        })
    }

    fn fusionauth(&self) -> Result<Value, NotCarried> {
        let scheme = |name: &str, factor: u64, salt: String, password: String| json!({ "encryptionScheme": name, "factor": factor, "salt": salt, "password": password });
        let b64 = kdf::base64_encode;
        Ok(match self {
            Stored::Bcrypt {
                cost, salt, hash, ..
            } => scheme("bcrypt", u64::from(*cost), salt.clone(), hash.clone()),
            Stored::Pbkdf2 {
                digest,
                iterations,
                salt,
                key,
                ..
            } => {
                let name = match (digest, key.len()) {
                    (Digest::Sha256, 32) => "salted-pbkdf2-hmac-sha256",
                    (Digest::Sha256, 64) => "salted-pbkdf2-hmac-sha256-512",
                    (Digest::Sha512, 64) => "salted-pbkdf2-hmac-sha512-512",
                    (Digest::Sha1, _) => return Err(self.not(None)),
                    (_, n) => return Err(self.not(Some(format!("a {n}-byte key")))),
                };
                scheme(name, *iterations, b64(salt), b64(key))
            }
            Stored::Ldap {
                digest: Digest::Md5,
                value,
                salt,
                ..
            } => scheme("salted-md5", 1, b64(salt), b64(value)),
            Stored::Ldap {
                digest: Digest::Sha256,
                value,
                salt,
                ..
            } => scheme("salted-sha256", 1, b64(salt), b64(value)),
            Stored::Descriptor(d) if d.hmac && d.digest == Digest::Sha256 => {
                let (key, _, _) = d.key.clone().unwrap_or_default();
                scheme("salted-hmac-sha256", 1, b64(&key), b64(&d.value))
            }
            Stored::Descriptor(d)
                if !d.hmac && matches!(d.digest, Digest::Md5 | Digest::Sha256) =>
            {
                if d.salt.is_some() && !d.suffix {
                    return Err(self.not(Some(
                        "a prefix salt; FusionAuth takes H(password + salt)".into(),
                    )));
                }
                let salt = d.salt.as_ref().map(|s| b64(&s.0)).unwrap_or_default();
                let name = if d.digest == Digest::Md5 {
                    "salted-md5"
                } else {
                    "salted-sha256"
                };
                scheme(name, 1, salt, b64(&d.value))
            }
            Stored::Phpass {
                count,
                salt,
                digest,
            } => scheme(
                "phpass-md5",
                1u64 << count,
                b64(salt.as_bytes()),
                b64(digest),
            ),
            _ => return Err(self.not(None)),
        })
    }

    fn keycloak(&self) -> Result<Value, NotCarried> {
        let (secret, credential) = match self {
            Stored::Pbkdf2 {
                digest,
                iterations,
                salt,
                key,
                ..
            } => {
                let algorithm = match digest {
                    Digest::Sha1 => "pbkdf2",
                    Digest::Sha256 => "pbkdf2-sha256",
                    _ => "pbkdf2-sha512",
                };
                (
                    json!({ "value": kdf::base64_encode(key), "salt": kdf::base64_encode(salt), "additionalParameters": {} }),
                    json!({ "hashIterations": iterations, "algorithm": algorithm, "additionalParameters": {} }),
                )
            }
            Stored::Argon2 {
                variant,
                version,
                m,
                t,
                p,
                salt,
                hash,
                ..
            } => (
                json!({ "value": kdf::base64_encode(hash), "salt": kdf::base64_encode(salt), "additionalParameters": {} }),
                json!({
                    "hashIterations": t,
                    "algorithm": "argon2",
                    "additionalParameters": {
                        "type": [variant.trim_start_matches("argon2")],
                        "version": [if *version == 19 { "1.3" } else { "1.0" }],
                        "memory": [m.to_string()],
                        "parallelism": [p.to_string()],
                        "hashLength": [hash.len().to_string()],
                    },
                }),
            ),
            _ => return Err(self.not(None)),
        };
        Ok(json!({
            "type": "password",
            "secretData": secret.to_string(),
            "credentialData": credential.to_string(),
        }))
    }
}

/// `$pbkdf2-<d>$i=<N>,l=<key bytes>$<B64 salt>$<B64 key>`, as Auth0 and
/// Kratos read PBKDF2.
fn phc_pbkdf2(stored: &Stored) -> String {
    let Stored::Pbkdf2 {
        digest,
        iterations,
        salt,
        key,
        ..
    } = stored
    else {
        return String::new();
    };
    format!(
        "$pbkdf2-{}$i={iterations},l={}${}${}",
        digest.name(),
        key.len(),
        kdf::base64_encode_nopad(salt),
        kdf::base64_encode_nopad(key)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_shapes_with_other_text_are_unknown_not_a_panic() {
        // 60 and 34 bytes, the right prefixes, a three-byte character astride
        // the positions the parsers slice at
        let bcrypt = format!("$2a$\u{20ac}{}", "a".repeat(53));
        assert_eq!(bcrypt.len(), 60);
        assert!(!matches!(parse(&bcrypt), Ok(Stored::Bcrypt { .. })));
        let phpass = format!("$P$B12\u{20ac}{}", "a".repeat(25));
        assert_eq!(phpass.len(), 34);
        assert!(!matches!(parse(&phpass), Ok(Stored::Phpass { .. })));
        assert!(matches!(parse(""), Err(NotCarried::None)));
        // a cost no number holds, and braces inside {CRYPT}
        assert!(parse("$scrypt$ln=64,r=8,p=1$c2FsdA$aGFzaA").is_err());
        assert!(parse(&"{CRYPT}".repeat(10_000)).is_err());
    }

    /// Outside the table, or malformed in the form its prefix names: the
    /// spec's `hash_unknown_format`, told by length only.
    #[test]
    fn forms_outside_the_table_and_malformed_ones_are_unknown_by_length() {
        for stored in [
            // Drupal 7 and yescrypt: the login verifier knows them, no target takes them
            "$S$DQ8zNbwC4ZuR1EVaV1nLyqUOfI/FStGqvHnnqDKOqQ3iLAa3WS4H",
            "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
            "{SSHA384}QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5emFi",
            "{SSHA}not base64!",
            "{SHA}AAAA",
            "$2y$xx$abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0",
            "{CRYPT}",
            "$pbkdf2-sha256$many$c2FsdA$aGFzaA",
            "pbkdf2_sha256$x$salt$aGFzaA==",
            "$argon2id$v=19$m=65536$c2FsdA$aGFzaA",
            "{CRYPT}$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7",
            "hunter2",
            // known shapes, malformed as password::verify finds them: an
            // empty key (Kratos would let any password in), no iterations,
            // costs out of range, keys too short
            "$pbkdf2-sha256$29000$l7KWktJ6LwUA4JwzprQ2pg$",
            // a key shorter than the digest: a column cut short
            "$pbkdf2-sha256$29000$l7KWktJ6LwUA4JwzprQ2pg$BA",
            "pbkdf2_sha256$1000$salt$",
            "$pbkdf2-sha256$0$l7KWktJ6LwUA4JwzprQ2pg$aGFzaGhhc2hoYXNoaGFzaA",
            "{PBKDF2-SHA256}0$l7KWktJ6LwUA4JwzprQ2pg$aGFzaGhhc2hoYXNoaGFzaA",
            "$P$zSaltSalt0123456789abcdefghijkl",
            "$H$/SaltSalt0123456789abcdefghijkl",
            "$2y$99$abcdefghijklmnopqrstuuJ8F2nM1vMv1jJ4XkR1hEJ3C5yVdS2Gm",
            "$2y$03$abcdefghijklmnopqrstuuJ8F2nM1vMv1jJ4XkR1hEJ3C5yVdS2Gm",
            "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=65536,t=3,p=4$$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$",
            "$argon2id$v=18$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=14,r=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=0,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$",
            "$5$RJdybpMVz0LUmpTO$short",
            "{CRYPT}$6$salt$short",
            "$1$saltsalt$short",
        ] {
            match parse(stored) {
                Err(e @ NotCarried::Unknown(_)) => {
                    assert_eq!(e.reason(), "hash_unknown_format");
                    assert_eq!(
                        e.detail(),
                        format!("unrecognized, {} characters", stored.chars().count()),
                        "{stored}"
                    );
                }
                other => panic!("{stored}: {other:?}"),
            }
        }
        // the same shapes well formed are carried
        for stored in [
            "$pbkdf2-sha256$29000$l7KWktJ6LwUA4JwzprQ2pg$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
            "$P$BSaltSalt0123456789abcdefghijkl",
            "$2y$10$abcdefghijklmnopqrstuuJ8F2nM1vMv1jJ4XkR1hEJ3C5yVdS2Gm",
            "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$scrypt$ln=14,r=8,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
            "$5$RJdybpMVz0LUmpTO$0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
            "$1$saltsalt$0123456789abcdefghijkl",
        ] {
            assert!(parse(stored).is_ok(), "{stored}");
        }
        // in the table with no target: not importable, by name
        for (stored, name) in [
            (
                "$wp$2y$10$abcdefghijklmnopqrstuuJ8F2nM1vMv1jJ4XkR1hEJ3C5yVdS2Gm",
                "wordpress-bcrypt",
            ),
            (
                "bcrypt_sha256$$2b$12$abcdefghijklmnopqrstuu",
                "django-bcrypt-sha256",
            ),
        ] {
            let stored = parse(stored).unwrap();
            let e = stored.for_target(Target::Auth0).unwrap_err();
            assert_eq!((e.reason(), e.detail()), ("hash_not_importable", name));
        }
    }

    /// passlib's `{SSHA}` (legacy.tsv) with its name in small letters and
    /// its padding dropped: Kratos's comparator matches `{SSHA}` with its
    /// case and decodes padded base64, so both targets that carry the
    /// value get it as OpenLDAP writes it.
    #[test]
    fn ldap_values_are_carried_as_openldap_writes_them() {
        let canonical = "{SSHA}P7qfI5XVtx7F0kgGnlrivZ6fTewYY4yR";
        for stored in [canonical, "{ssha}P7qfI5XVtx7F0kgGnlrivZ6fTewYY4yR"] {
            let parsed = parse(stored).unwrap();
            assert_eq!(parsed.for_target(Target::Kratos).unwrap(), json!(canonical));
            assert_eq!(
                parsed.for_target(Target::Auth0).unwrap()["hash"]["value"],
                json!(canonical)
            );
        }
        // a body whose padding was dropped: {SHA} of "password"
        let parsed = parse("{sha}W6ph5Mm5Pz8GgiULbPgzG37mj9g").unwrap();
        assert_eq!(
            parsed.for_target(Target::Auth0).unwrap()["hash"]["value"],
            json!("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=")
        );
    }

    #[test]
    fn kratos_takes_argon2_of_version_19_only_and_says_why_not() {
        let v19 = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        assert!(parse(v19).unwrap().for_target(Target::Kratos).is_ok());
        // v=16 written out, and Argon2 1.0's encoding without a version
        for old in [v19.replace("v=19", "v=16"), v19.replace("$v=19", "")] {
            let stored = parse(&old).unwrap();
            let e = stored.for_target(Target::Kratos).unwrap_err();
            assert_eq!(
                (e.reason(), e.detail()),
                (
                    "hash_not_importable",
                    "argon2id: v=16, Kratos reads v=19 only"
                )
            );
            // Keycloak takes it, as version 1.0
            let credential = stored.for_target(Target::Keycloak).unwrap();
            assert!(credential.to_string().contains("1.0"), "{credential}");
        }
    }

    #[test]
    fn a_descriptor_carries_base64_padded_and_an_empty_salt_as_none() {
        let given = |v: serde_json::Value| descriptor(v.as_object().unwrap()).unwrap();
        // md5("password"), base64 with its padding cut
        let Stored::Descriptor(d) = given(serde_json::json!({
            "algorithm": "md5", "encoding": "base64", "value": "X03MO1qnZdYdgyfeuILPmQ",
            "salt": ""
        })) else {
            panic!("not a descriptor")
        };
        assert_eq!(d.value_text, "X03MO1qnZdYdgyfeuILPmQ==");
        assert!(d.salt.is_none());
        let Stored::Descriptor(d) = given(serde_json::json!({
            "algorithm": "sha1", "value": "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
            "salt": "AAE", "salt_encoding": "base64"
        })) else {
            panic!("not a descriptor")
        };
        assert_eq!(
            d.salt.map(|(raw, text, _)| (raw, text)),
            Some((vec![0, 1], "AAE=".into()))
        );
    }
}
