//! Password hashes: recognising a stored hash by its shape, verifying a plain
//! password against it in constant time, making new hashes in the
//! connection's configured algorithm, and telling when a hash should be
//! upgraded. Costs that would hold a thread for long are refused, not computed.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::settings::PasswordAlgorithm;

/// The highest bcrypt cost that is computed (2^16 rounds, several seconds).
pub const MAX_BCRYPT_COST: u32 = 16;
/// The most memory an Argon2 hash may ask for, in KiB (256 MiB).
pub const MAX_ARGON2_KIB: u32 = 256 * 1024;
/// bcrypt uses the first 72 bytes of a password only.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;

/// How the connection makes new hashes.
#[derive(Debug, Clone, Copy)]
pub struct HashPolicy {
    pub algorithm: PasswordAlgorithm,
    pub bcrypt_cost: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Bcrypt,
    Argon2,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashError {
    /// Names the prefix seen, never the hash.
    #[error("unknown password hash format (it starts with `{0}`)")]
    UnknownFormat(String),
    #[error("the stored {0} hash is malformed")]
    Malformed(&'static str),
    #[error("the stored {format} hash asks for {what}, over the limit of {limit}; refused")]
    TooCostly {
        format: &'static str,
        what: String,
        limit: String,
    },
    #[error("the password is longer than bcrypt's 72 bytes")]
    TooLong,
    #[error("hashing failed")]
    Internal,
}

/// The format of `stored`, by its shape only.
pub fn detect(stored: &str) -> Option<Format> {
    let b = stored.as_bytes();
    if b.len() == 60 && matches!(&stored.get(..4)?, &"$2a$" | &"$2b$" | &"$2x$" | &"$2y$") {
        return Some(Format::Bcrypt);
    }
    if ["$argon2id$", "$argon2i$", "$argon2d$"]
        .iter()
        .any(|p| stored.starts_with(p))
    {
        return Some(Format::Argon2);
    }
    None
}

/// What an error may say of a hash: its first `$`-delimited part or its
/// first few characters.
pub fn prefix_of(stored: &str) -> String {
    if let Some(rest) = stored.strip_prefix('$') {
        if let Some(end) = rest.find('$') {
            if end <= 16 {
                return format!("${}$", &rest[..end]);
            }
        }
    }
    stored.chars().take(4).collect()
}

/// Is `plain` the password of `stored`? Empty `stored` is simply false.
pub fn verify(plain: &str, stored: &str) -> Result<bool, HashError> {
    if stored.is_empty() {
        return Ok(false);
    }
    match detect(stored).ok_or_else(|| HashError::UnknownFormat(prefix_of(stored)))? {
        Format::Bcrypt => {
            let cost = bcrypt_cost(stored)?;
            if cost > MAX_BCRYPT_COST {
                return Err(HashError::TooCostly {
                    format: "bcrypt",
                    what: format!("cost {cost}"),
                    limit: MAX_BCRYPT_COST.to_string(),
                });
            }
            // Legacy systems verified with the first 72 bytes: so do we.
            bcrypt::verify(plain, stored).map_err(|_| HashError::Malformed("bcrypt"))
        }
        Format::Argon2 => {
            let hash = PasswordHash::new(stored).map_err(|_| HashError::Malformed("Argon2"))?;
            let params =
                argon2::Params::try_from(&hash).map_err(|_| HashError::Malformed("Argon2"))?;
            if params.m_cost() > MAX_ARGON2_KIB {
                return Err(HashError::TooCostly {
                    format: "Argon2",
                    what: format!("{} KiB", params.m_cost()),
                    limit: format!("{MAX_ARGON2_KIB} KiB"),
                });
            }
            match Argon2::default().verify_password(plain.as_bytes(), &hash) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(_) => Err(HashError::Malformed("Argon2")),
            }
        }
    }
}

/// A new hash of `plain` in the policy's algorithm.
pub fn hash(plain: &str, policy: HashPolicy) -> Result<String, HashError> {
    match policy.algorithm {
        PasswordAlgorithm::Bcrypt => {
            if plain.len() > BCRYPT_MAX_PASSWORD_BYTES {
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

/// True when `stored` is not in the policy's algorithm and cost.
pub fn needs_rehash(stored: &str, policy: HashPolicy) -> Result<bool, HashError> {
    let format = detect(stored).ok_or_else(|| HashError::UnknownFormat(prefix_of(stored)))?;
    Ok(match (policy.algorithm, format) {
        (PasswordAlgorithm::Bcrypt, Format::Bcrypt) => bcrypt_cost(stored)? != policy.bcrypt_cost,
        (PasswordAlgorithm::Argon2id, Format::Argon2) => {
            let hash = PasswordHash::new(stored).map_err(|_| HashError::Malformed("Argon2"))?;
            let params =
                argon2::Params::try_from(&hash).map_err(|_| HashError::Malformed("Argon2"))?;
            let wanted = argon2::Params::default();
            hash.algorithm.as_str() != "argon2id"
                || hash.version != Some(0x13)
                || params.m_cost() != wanted.m_cost()
                || params.t_cost() != wanted.t_cost()
                || params.p_cost() != wanted.p_cost()
        }
        _ => true,
    })
}

fn bcrypt_cost(stored: &str) -> Result<u32, HashError> {
    stored
        .get(4..6)
        .and_then(|c| c.parse().ok())
        .ok_or(HashError::Malformed("bcrypt"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!needs_rehash(&h, ARGON).unwrap());
        assert!(needs_rehash(&h, BCRYPT).unwrap());
    }

    #[test]
    fn needs_rehash_by_cost() {
        let h = hash("pw", BCRYPT).unwrap();
        assert!(!needs_rehash(&h, BCRYPT).unwrap());
        let other = HashPolicy {
            bcrypt_cost: 5,
            ..BCRYPT
        };
        assert!(needs_rehash(&h, other).unwrap());
        assert!(needs_rehash(&h, ARGON).unwrap());
    }

    #[test]
    fn unknown_format_names_the_prefix_only() {
        let e = verify("pw", "$zz$secretsecretsecret").unwrap_err();
        assert_eq!(e, HashError::UnknownFormat("$zz$".into()));
        let e = verify("pw", "plaintextpassword").unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown password hash format (it starts with `plai`)"
        );
        assert_eq!(verify("pw", ""), Ok(false));
    }

    #[test]
    fn costs_past_the_caps_are_refused() {
        let h = "$2y$17$abcdefghijklmnopqrstuu5Bz1ON1jKvQX0rGUqHKJ8Tc6hJ8rGie";
        assert!(matches!(verify("pw", h), Err(HashError::TooCostly { .. })));
        let a = "$argon2id$v=19$m=524288,t=2,p=1$c29tZXNhbHQ$MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI";
        assert!(matches!(verify("pw", a), Err(HashError::TooCostly { .. })));
    }
}
