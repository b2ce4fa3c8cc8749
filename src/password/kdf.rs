//! The digests, MACs and key derivations that the formats and the scripts'
//! `crypto::` blocks share, each with its cost caps checked before any work
//! is done, and the text codecs legacy schemes store their bytes in.

use argon2::{Algorithm, Argon2, Version};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};

use super::{too_costly, HashError, MAX_ARGON2_KIB, MAX_ROUNDS};

/// The longest key PBKDF2 derives.
pub const MAX_PBKDF2_KEY: usize = 64;
/// The longest output of scrypt and Argon2.
pub const MAX_KDF_OUTPUT: usize = 1024;
/// The highest scrypt N and the most memory (128·N·r bytes) it may take.
pub const MAX_SCRYPT_N: u64 = 1 << 20;
pub const MAX_KDF_BYTES: u64 = 1 << 30;
/// The highest Argon2 time cost and lane count, and scrypt's p.
pub const MAX_PASSES: u32 = 16;
pub const MAX_LANES: u32 = 16;

/// The digests legacy schemes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Digest {
    /// `"md5"`, `"sha1"`, `"sha256"`, `"sha384"`, `"sha512"`.
    pub fn parse(name: &str) -> Option<Digest> {
        Some(match name {
            "md5" => Digest::Md5,
            "sha1" => Digest::Sha1,
            "sha256" => Digest::Sha256,
            "sha384" => Digest::Sha384,
            "sha512" => Digest::Sha512,
            _ => return None,
        })
    }

    /// The name [`Digest::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Digest::Md5 => "md5",
            Digest::Sha1 => "sha1",
            Digest::Sha256 => "sha256",
            Digest::Sha384 => "sha384",
            Digest::Sha512 => "sha512",
        }
    }

    /// The digest of the parts, one after the other.
    pub fn of(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: sha2::Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Digest::Md5 => run::<md5::Md5>(parts),
            Digest::Sha1 => run::<sha1::Sha1>(parts),
            Digest::Sha256 => run::<sha2::Sha256>(parts),
            Digest::Sha384 => run::<sha2::Sha384>(parts),
            Digest::Sha512 => run::<sha2::Sha512>(parts),
        }
    }

    /// The digest's length in bytes.
    pub fn size(self) -> usize {
        match self {
            Digest::Md5 => 16,
            Digest::Sha1 => 20,
            Digest::Sha256 => 32,
            Digest::Sha384 => 48,
            Digest::Sha512 => 64,
        }
    }
}

/// HMAC with `digest`.
pub fn hmac(digest: Digest, key: &[u8], data: &[u8]) -> Vec<u8> {
    fn run<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes a key of any length.
        match <M as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    match digest {
        Digest::Md5 => run::<Hmac<md5::Md5>>(key, data),
        Digest::Sha1 => run::<Hmac<sha1::Sha1>>(key, data),
        Digest::Sha256 => run::<Hmac<sha2::Sha256>>(key, data),
        Digest::Sha384 => run::<Hmac<sha2::Sha384>>(key, data),
        Digest::Sha512 => run::<Hmac<sha2::Sha512>>(key, data),
    }
}

/// PBKDF2 with HMAC-`prf` (not MD5), `length` bytes.
/// Checks PBKDF2's parameters against the caps (and zeroes), before any
/// work.
pub fn pbkdf2_costs(format: &'static str, rounds: u64, length: usize) -> Result<(), HashError> {
    if rounds == 0 || length == 0 {
        return Err(HashError::Malformed(format));
    }
    if rounds > u64::from(MAX_ROUNDS) {
        return Err(too_costly(format, "iterations", MAX_ROUNDS));
    }
    if length > MAX_PBKDF2_KEY {
        return Err(too_costly(
            format,
            "key length",
            format!("{MAX_PBKDF2_KEY} bytes"),
        ));
    }
    Ok(())
}

pub fn pbkdf2(
    format: &'static str,
    prf: Digest,
    password: &[u8],
    salt: &[u8],
    rounds: u64,
    length: usize,
) -> Result<Vec<u8>, HashError> {
    pbkdf2_costs(format, rounds, length)?;
    super::work()?;
    let rounds = rounds as u32;
    let mut out = vec![0u8; length];
    match prf {
        Digest::Sha1 => pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, salt, rounds, &mut out),
        Digest::Sha256 => pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, salt, rounds, &mut out),
        Digest::Sha384 => pbkdf2::pbkdf2_hmac::<sha2::Sha384>(password, salt, rounds, &mut out),
        Digest::Sha512 => pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, salt, rounds, &mut out),
        Digest::Md5 => return Err(HashError::Malformed(format)),
    }
    Ok(out)
}

/// scrypt with cost `n` (a power of two), `length` bytes.
pub fn scrypt(
    format: &'static str,
    password: &[u8],
    salt: &[u8],
    n: u64,
    r: u32,
    p: u32,
    length: usize,
) -> Result<Vec<u8>, HashError> {
    scrypt_costs(format, n, r, p, length)?;
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p)
        .map_err(|_| HashError::Malformed(format))?;
    super::work()?;
    let mut out = vec![0u8; length];
    scrypt::scrypt(password, salt, &params, &mut out).map_err(|_| HashError::Malformed(format))?;
    Ok(out)
}

/// Checks scrypt's parameters against the caps (and zeroes), before any
/// work.
pub fn scrypt_costs(
    format: &'static str,
    n: u64,
    r: u32,
    p: u32,
    length: usize,
) -> Result<(), HashError> {
    if n < 2 || !n.is_power_of_two() || r == 0 || p == 0 || length == 0 {
        return Err(HashError::Malformed(format));
    }
    if n > MAX_SCRYPT_N {
        return Err(too_costly(format, "N", "N = 2^20"));
    }
    if 128 * n * u64::from(r) > MAX_KDF_BYTES || p > MAX_LANES {
        return Err(too_costly(
            format,
            "memory or p",
            "1 GiB of memory and p = 16",
        ));
    }
    if length > MAX_KDF_OUTPUT {
        return Err(too_costly(
            format,
            "output length",
            format!("{MAX_KDF_OUTPUT} bytes"),
        ));
    }
    Ok(())
}

/// The Argon2 variant of a name: `argon2id`, `argon2i`, `argon2d` (or `id`,
/// `i`, `d`).
pub fn argon2_variant(name: &str) -> Option<Algorithm> {
    match name.strip_prefix("argon2").unwrap_or(name) {
        "id" => Some(Algorithm::Argon2id),
        "i" => Some(Algorithm::Argon2i),
        "d" => Some(Algorithm::Argon2d),
        _ => None,
    }
}

/// Checks Argon2 costs against the caps.
pub fn argon2_costs(
    format: &'static str,
    t: u32,
    m: u32,
    p: u32,
    length: usize,
) -> Result<(), HashError> {
    if m > MAX_ARGON2_KIB {
        return Err(too_costly(
            format,
            "memory",
            format!("{MAX_ARGON2_KIB} KiB"),
        ));
    }
    if t > MAX_PASSES || p > MAX_LANES {
        return Err(too_costly(format, "t or p", "t = 16 and p = 16"));
    }
    if length > MAX_KDF_OUTPUT {
        return Err(too_costly(
            format,
            "output length",
            format!("{MAX_KDF_OUTPUT} bytes"),
        ));
    }
    Ok(())
}

/// Raw Argon2: `t` passes, `m` KiB, `p` lanes, `length` bytes.
#[allow(clippy::too_many_arguments)]
pub fn argon2(
    format: &'static str,
    variant: Algorithm,
    version: Version,
    password: &[u8],
    salt: &[u8],
    t: u32,
    m: u32,
    p: u32,
    length: usize,
) -> Result<Vec<u8>, HashError> {
    argon2_costs(format, t, m, p, length)?;
    if salt.len() < 8 || t == 0 || p == 0 || length < 4 {
        return Err(HashError::Malformed(format));
    }
    let params =
        argon2::Params::new(m, t, p, Some(length)).map_err(|_| HashError::Malformed(format))?;
    super::work()?;
    let mut out = vec![0u8; length];
    Argon2::new(variant, version, params)
        .hash_password_into(password, salt, &mut out)
        .map_err(|_| HashError::Malformed(format))?;
    Ok(out)
}

// ---- codecs ----

/// Lower-case hexadecimal.
pub fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Hexadecimal in either case.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

/// Is `text` all hexadecimal digits, `len` of them?
pub fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

const fn lenient(alphabet: &'static base64::alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_encode_padding(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

const STANDARD: GeneralPurpose = lenient(&base64::alphabet::STANDARD);
const URL_SAFE: GeneralPurpose = lenient(&base64::alphabet::URL_SAFE);

/// Standard base64, padded.
pub fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Standard base64 without `=`.
pub fn base64_encode_nopad(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Standard base64, padding there or not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// URL-safe base64 without padding.
pub fn base64url_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// URL-safe base64, padding there or not.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE.decode(text).ok()
}

/// The alphabet of crypt(3)'s base64.
const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// crypt's base64 as phpass and Drupal write it: each 3 bytes b0 b1 b2 are
/// the number b0 + b1·2^8 + b2·2^16, 4 characters, lowest 6 bits first; 1
/// or 2 bytes left over give 2 or 3 characters.
pub fn crypt64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut value = 0u32;
        for (i, b) in chunk.iter().enumerate() {
            value |= u32::from(*b) << (8 * i);
        }
        for _ in 0..=chunk.len() {
            out.push(ITOA64[(value & 0x3f) as usize] as char);
            value >>= 6;
        }
    }
    out
}

/// Whether `text` is `len` characters of crypt's alphabet: the digest part
/// of a crypt-family value, which a malformed value (cut short, one
/// character too many, a stray `!`) is not.
pub fn is_crypt64(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| itoa64_index(b).is_some())
}

/// The inverse of [`crypt64_encode`]; `None` for a character outside the
/// alphabet or a length no byte count gives.
pub fn crypt64_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
    for chunk in text.as_bytes().chunks(4) {
        let mut value = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = ITOA64.iter().position(|a| a == c)? as u32;
            value |= v << (6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((value >> (8 * i)) as u8);
        }
    }
    Some(out)
}

/// The position of a character in crypt's alphabet.
pub fn itoa64_index(c: u8) -> Option<u32> {
    ITOA64.iter().position(|a| *a == c).map(|i| i as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_round_trip() {
        for bytes in [&b""[..], b"a", b"ab", b"abc", b"\x00\xff\x10\x80\x7f"] {
            assert_eq!(hex_decode(&hex_encode(bytes)).as_deref(), Some(bytes));
            assert_eq!(
                crypt64_decode(&crypt64_encode(bytes)).as_deref(),
                Some(bytes)
            );
            assert_eq!(base64_decode(&base64_encode(bytes)).as_deref(), Some(bytes));
            assert_eq!(
                base64_decode(&base64_encode_nopad(bytes)).as_deref(),
                Some(bytes)
            );
            assert_eq!(
                base64url_decode(&base64url_encode(bytes)).as_deref(),
                Some(bytes)
            );
        }
        assert_eq!(hex_decode("AbCd"), Some(vec![0xab, 0xcd]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
        assert_eq!(crypt64_decode("a"), None);
        assert_eq!(crypt64_decode("a!"), None);
        assert_eq!(base64_decode("a$=="), None);
    }

    #[test]
    fn costs_are_refused_before_work() {
        let too = |r: Result<Vec<u8>, HashError>| matches!(r, Err(HashError::TooCostly { .. }));
        assert!(too(pbkdf2("t", Digest::Sha1, b"p", b"s", 5_000_001, 32)));
        assert!(too(pbkdf2("t", Digest::Sha1, b"p", b"s", 1, 65)));
        assert!(too(scrypt("t", b"p", b"s", 1 << 21, 1, 1, 32)));
        assert!(too(scrypt("t", b"p", b"s", 1 << 20, 9, 1, 32)));
        assert!(too(scrypt("t", b"p", b"s", 1 << 10, 8, 17, 32)));
        let a = |t, m, p, len| {
            argon2(
                "t",
                Algorithm::Argon2id,
                Version::V0x13,
                b"p",
                b"saltsalt",
                t,
                m,
                p,
                len,
            )
        };
        assert!(too(a(17, 64, 1, 32)));
        assert!(too(a(1, 262_145, 1, 32)));
        assert!(too(a(1, 64, 17, 32)));
        assert!(too(a(1, 64, 1, 1025)));
        assert_eq!(
            scrypt("t", b"p", b"s", 1000, 8, 1, 32),
            Err(HashError::Malformed("t"))
        );
        assert_eq!(
            pbkdf2("t", Digest::Sha1, b"p", b"s", 0, 32),
            Err(HashError::Malformed("t"))
        );
        assert_eq!(
            argon2(
                "t",
                Algorithm::Argon2id,
                Version::V0x13,
                b"p",
                b"short",
                1,
                64,
                1,
                32
            ),
            Err(HashError::Malformed("t"))
        );
    }
}
