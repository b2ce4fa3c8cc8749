//! `password::verify_as(format, plain, stored)`: the shapes that only the
//! operator can name, since nothing in the value tells them apart (a bare
//! hex digest, `hash:salt`, a base64 blob).

use subtle::ConstantTimeEq;

use super::kdf::{self, Digest};
use super::{legacy, too_costly, verify_bytes, HashError};

/// The names `verify_as` takes.
pub const FORMATS: &[&str] = &[
    "magento2",
    "joomla",
    "aspnet_identity",
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "mysql41",
];

/// The most hashing steps one Magento value may chain.
const MAX_MAGENTO_VERSIONS: usize = 4;

/// Is `plain` the password of `stored`, read as `format`? `""` is false.
pub fn verify_as(format: &str, plain: &str, stored: &str) -> Result<bool, HashError> {
    if !FORMATS.contains(&format) {
        return Err(HashError::UnknownName(format.chars().take(40).collect()));
    }
    if stored.is_empty() {
        return Ok(false);
    }
    let pw = plain.as_bytes();
    match format {
        "magento2" => magento2(pw, stored),
        "joomla" => joomla(pw, stored),
        "aspnet_identity" => aspnet_identity(pw, stored),
        "mysql41" => {
            let hex = stored
                .strip_prefix('*')
                .filter(|h| kdf::is_hex(h, 40))
                .ok_or(HashError::Malformed("mysql41"))?;
            let inner = Digest::Sha1.of(&[pw]);
            hex_equals(&Digest::Sha1.of(&[&inner]), hex, "mysql41")
        }
        name => {
            let (digest, format) = match name {
                "md5" => (Digest::Md5, "md5"),
                "sha1" => (Digest::Sha1, "sha1"),
                "sha256" => (Digest::Sha256, "sha256"),
                _ => (Digest::Sha512, "sha512"),
            };
            hex_equals(&digest.of(&[pw]), stored, format)
        }
    }
}

/// Does the hex text (either case) hold these bytes?
fn hex_equals(bytes: &[u8], hex: &str, format: &'static str) -> Result<bool, HashError> {
    let expected = kdf::hex_decode(hex)
        .filter(|e| e.len() == bytes.len())
        .ok_or(HashError::Malformed(format))?;
    Ok(bytes.ct_eq(&expected).into())
}

/// Magento 2's `hash:salt:versions`: each version, oldest first, hashes
/// the previous step's hex result.
fn magento2(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "magento2";
    let mut parts = stored.split(':');
    let (Some(hash), Some(salt)) = (parts.next(), parts.next()) else {
        return Err(HashError::Malformed(F));
    };
    let versions: Vec<&str> = parts.collect();
    if versions.is_empty() {
        return Err(HashError::Malformed(F));
    }
    if versions.len() > MAX_MAGENTO_VERSIONS {
        return Err(too_costly(F, "hashing versions", MAX_MAGENTO_VERSIONS));
    }
    // Check every step before computing any.
    let steps = versions
        .iter()
        .map(|v| MagentoStep::parse(v))
        .collect::<Result<Vec<_>, _>>()?;
    for step in &steps {
        if let MagentoStep::Argon2 { length, t, m_bytes } = step {
            kdf::argon2_costs(F, *t, (*m_bytes / 1024) as u32, 1, *length)?;
        }
    }
    let mut x = pw.to_vec();
    for step in steps {
        x = match step {
            MagentoStep::Md5 => kdf::hex_encode(&Digest::Md5.of(&[salt.as_bytes(), &x])),
            MagentoStep::Sha256 => kdf::hex_encode(&Digest::Sha256.of(&[salt.as_bytes(), &x])),
            MagentoStep::Argon2 { length, t, m_bytes } => {
                let key = kdf::argon2(
                    F,
                    argon2::Algorithm::Argon2id,
                    argon2::Version::V0x13,
                    &x,
                    &magento_salt(salt.as_bytes()).ok_or(HashError::Malformed(F))?,
                    t,
                    (m_bytes / 1024) as u32,
                    1,
                    length,
                )?;
                kdf::hex_encode(&key)
            }
        }
        .into_bytes();
    }
    Ok(x.ct_eq(hash.to_ascii_lowercase().as_bytes()).into())
}

enum MagentoStep {
    Md5,
    Sha256,
    Argon2 { length: usize, t: u32, m_bytes: u64 },
}

impl MagentoStep {
    fn parse(version: &str) -> Result<MagentoStep, HashError> {
        const F: &str = "magento2";
        Ok(match version {
            "0" => MagentoStep::Md5,
            "1" => MagentoStep::Sha256,
            // SODIUM_CRYPTO_SIGN_SEEDBYTES, OPSLIMIT and MEMLIMIT_INTERACTIVE
            "2" => MagentoStep::Argon2 {
                length: 32,
                t: 2,
                m_bytes: 64 << 20,
            },
            v => {
                let fields: Vec<&str> = v.split('_').collect();
                let ["3", length, t, m] = fields[..] else {
                    return Err(HashError::Malformed(F));
                };
                let number = |s: &str| s.parse::<u64>().map_err(|_| HashError::Malformed(F));
                let (length, t, m_bytes) = (number(length)?, number(t)?, number(m)?);
                if m_bytes > u64::from(super::MAX_ARGON2_KIB) * 1024 || t > 16 || length > 1024 {
                    return Err(too_costly(
                        F,
                        "an Argon2 step",
                        "256 MiB, t = 16, 1024 bytes",
                    ));
                }
                MagentoStep::Argon2 {
                    length: length as usize,
                    t: t as u32,
                    m_bytes,
                }
            }
        })
    }
}

/// PHP's `str_pad($salt, 16, $salt)` cut to 16 bytes: the salt's first 16
/// bytes, or the salt repeated.
fn magento_salt(salt: &[u8]) -> Option<Vec<u8>> {
    if salt.is_empty() {
        return None;
    }
    Some(salt.iter().copied().cycle().take(16).collect())
}

/// Whatever Joomla 1.0 to 4 wrote in `#__users.password`.
fn joomla(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "joomla";
    if stored.starts_with('$') {
        return verify_bytes(pw, stored);
    }
    // brace names in any case, as everywhere
    if stored
        .get(..8)
        .is_some_and(|p| p.eq_ignore_ascii_case("{SHA256}"))
    {
        return legacy::joomla_sha256(pw, &stored[8..]);
    }
    match stored.split_once(':') {
        Some((hex, salt)) => hex_equals(&Digest::Md5.of(&[pw, salt.as_bytes()]), hex, F),
        None => hex_equals(&Digest::Md5.of(&[pw]), stored, F),
    }
}

/// ASP.NET (Core) Identity's `PasswordHash`: base64 of a v2 or v3 blob.
fn aspnet_identity(pw: &[u8], stored: &str) -> Result<bool, HashError> {
    const F: &str = "aspnet_identity";
    let raw = kdf::base64_decode(stored).ok_or(HashError::Malformed(F))?;
    match raw.first() {
        Some(0x00) => {
            if raw.len() != 49 {
                return Err(HashError::Malformed(F));
            }
            let (salt, key) = (&raw[1..17], &raw[17..]);
            let computed = kdf::pbkdf2(F, Digest::Sha1, pw, salt, 1000, 32)?;
            Ok(computed.ct_eq(key).into())
        }
        Some(0x01) => {
            let number = |at: usize| -> Result<u32, HashError> {
                raw.get(at..at + 4)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                    .ok_or(HashError::Malformed(F))
            };
            let prf = match number(1)? {
                0 => Digest::Sha1,
                1 => Digest::Sha256,
                2 => Digest::Sha512,
                _ => return Err(HashError::Malformed(F)),
            };
            let rounds = number(5)?;
            let salt_len = number(9)? as usize;
            let salt = raw.get(13..13 + salt_len).ok_or(HashError::Malformed(F))?;
            let key = &raw[13 + salt_len..];
            if salt_len < 16 || key.len() < 16 {
                return Err(HashError::Malformed(F));
            }
            let computed = kdf::pbkdf2(F, prf, pw, salt, u64::from(rounds), key.len())?;
            Ok(computed.ct_eq(key).into())
        }
        _ => Err(HashError::Malformed(F)),
    }
}

#[cfg(test)]
mod tests {
    /// Joomla's `{SHA256}` in any case, as brace names are everywhere (the
    /// value from tests/vectors/legacy.tsv, written by Joomla's formula).
    #[test]
    fn joomla_takes_its_brace_name_in_any_case() {
        let body = "d8565d6f85f2aa66fba4a83364176439ecb96d04165b5784da4e71815948191a:738c74a3608b";
        for braces in ["{SHA256}", "{sha256}", "{Sha256}"] {
            let stored = format!("{braces}{body}");
            assert_eq!(
                super::verify_as("joomla", "correct horse battery staple", &stored),
                Ok(true),
                "{stored}"
            );
        }
    }
}
