//! The `crypto::` building blocks, for home-made schemes that no built-in
//! format covers: digests, HMAC and key derivations on strings or blobs,
//! giving blobs; codecs between blobs and text; a constant-time compare.
//! The derivations run behind the hash gate like `password::` does, with
//! the same caps, checked before any work.

use rhai::{Blob, Dynamic, Module};

use super::api::{at, gated, runtime, Ctx, Fallible};
use crate::password::kdf::{self, Digest};
use crate::password::HashError;

/// The bytes of "data": a string's UTF-8 bytes or a blob's.
fn bytes(what: &str, value: Dynamic) -> Fallible<Vec<u8>> {
    if value.is_blob() {
        return Ok(value.into_blob().unwrap_or_default());
    }
    value
        .into_immutable_string()
        .map(|s| s.as_bytes().to_vec())
        .map_err(|t| runtime(format!("{what} must be a string or a blob, not {t}")))
}

fn digest_named(function: &str, name: &str) -> Fallible<Digest> {
    Digest::parse(name).ok_or_else(|| {
        runtime(format!(
            "crypto::{function}: the algorithm is one of md5, sha1, sha256, sha384, sha512"
        ))
    })
}

fn count(function: &str, what: &str, value: i64) -> Fallible<u64> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| runtime(format!("crypto::{function}: {what} must be a positive int")))
}

fn decoded(function: &str, out: Option<Vec<u8>>) -> Fallible<Blob> {
    out.ok_or_else(|| {
        runtime(format!(
            "crypto::{function}: the text is not of its alphabet"
        ))
    })
}

/// Runs a derivation behind the hash gate; its refusals are catchable.
fn derive(f: impl FnOnce() -> Result<Vec<u8>, HashError> + Send + 'static) -> Fallible<Blob> {
    gated(f)?.map_err(|e| {
        runtime(match e {
            // no stored hash here: the parameters the script gave
            HashError::Malformed(function) => format!(
                "{function}: the parameters are out of the algorithm's range ({})",
                match function {
                    "crypto::scrypt" => "n a power of two of at least 2, r × p under 2^30",
                    "crypto::argon2" =>
                        "a salt of 8 bytes or more, m at least 8 × p, length 4 or more",
                    _ => "see the function's reference",
                }
            ),
            e => e.to_string(),
        })
    })
}

pub fn module() -> Module {
    let mut m = Module::new();
    for (name, digest) in [
        ("md5", Digest::Md5),
        ("sha1", Digest::Sha1),
        ("sha256", Digest::Sha256),
        ("sha384", Digest::Sha384),
        ("sha512", Digest::Sha512),
    ] {
        m.set_native_fn(name, move |ctx: Ctx, data: Dynamic| {
            at(&ctx, bytes("data", data).map(|d| digest.of(&[&d])))
        });
        // The text forms of the first round: hex of a string's digest.
        if name != "sha384" {
            m.set_native_fn(format!("{name}_hex"), move |data: &str| {
                Ok(kdf::hex_encode(&digest.of(&[data.as_bytes()])))
            });
        }
    }
    m.set_native_fn(
        "hmac",
        |ctx: Ctx, algorithm: &str, key: Dynamic, data: Dynamic| {
            at(&ctx, {
                let run = || -> Fallible<Blob> {
                    let digest = digest_named("hmac", algorithm)?;
                    Ok(kdf::hmac(
                        digest,
                        &bytes("key", key)?,
                        &bytes("data", data)?,
                    ))
                };
                run()
            })
        },
    );
    m.set_native_fn("hmac_sha256_hex", |key: &str, data: &str| {
        Ok(kdf::hex_encode(&kdf::hmac(
            Digest::Sha256,
            key.as_bytes(),
            data.as_bytes(),
        )))
    });
    m.set_native_fn(
        "pbkdf2",
        |ctx: Ctx, prf: &str, password: Dynamic, salt: Dynamic, iterations: i64, length: i64| {
            at(&ctx, {
                let run = || -> Fallible<Blob> {
                    let prf = digest_named("pbkdf2", prf)?;
                    if prf == Digest::Md5 {
                        return Err(runtime(
                            "crypto::pbkdf2: the PRF is sha1, sha256, sha384 or sha512",
                        ));
                    }
                    let (pw, salt) = (bytes("password", password)?, bytes("salt", salt)?);
                    let rounds = count("pbkdf2", "iterations", iterations)?;
                    let length = count("pbkdf2", "length", length)? as usize;
                    derive(move || kdf::pbkdf2("crypto::pbkdf2", prf, &pw, &salt, rounds, length))
                };
                run()
            })
        },
    );
    m.set_native_fn(
        "scrypt",
        |ctx: Ctx, password: Dynamic, salt: Dynamic, n: i64, r: i64, p: i64, length: i64| {
            at(&ctx, {
                let run = || -> Fallible<Blob> {
                    let (pw, salt) = (bytes("password", password)?, bytes("salt", salt)?);
                    let n = count("scrypt", "n", n)?;
                    let r = u32::try_from(count("scrypt", "r", r)?).unwrap_or(u32::MAX);
                    let p = u32::try_from(count("scrypt", "p", p)?).unwrap_or(u32::MAX);
                    let length = count("scrypt", "length", length)? as usize;
                    derive(move || kdf::scrypt("crypto::scrypt", &pw, &salt, n, r, p, length))
                };
                run()
            })
        },
    );
    m.set_native_fn(
        "argon2",
        |ctx: Ctx,
         variant: &str,
         password: Dynamic,
         salt: Dynamic,
         t: i64,
         memory: i64,
         p: i64,
         length: i64| {
            at(&ctx, {
                let run = || -> Fallible<Blob> {
                    let variant = kdf::argon2_variant(variant).ok_or_else(|| {
                        runtime("crypto::argon2: the variant is argon2id, argon2i or argon2d")
                    })?;
                    let (pw, salt) = (bytes("password", password)?, bytes("salt", salt)?);
                    let small = |what: &str, v: i64| -> Fallible<u32> {
                        Ok(u32::try_from(count("argon2", what, v)?).unwrap_or(u32::MAX))
                    };
                    let (t, m, p) = (small("t", t)?, small("m", memory)?, small("p", p)?);
                    let length = count("argon2", "length", length)? as usize;
                    derive(move || {
                        kdf::argon2(
                            "crypto::argon2",
                            variant,
                            argon2::Version::V0x13,
                            &pw,
                            &salt,
                            t,
                            m,
                            p,
                            length,
                        )
                    })
                };
                run()
            })
        },
    );
    m.set_native_fn("hex_encode", |blob: Blob| Ok(kdf::hex_encode(&blob)));
    m.set_native_fn("hex_decode", |ctx: Ctx, text: &str| {
        at(&ctx, decoded("hex_decode", kdf::hex_decode(text)))
    });
    m.set_native_fn("base64_encode", |blob: Blob| Ok(kdf::base64_encode(&blob)));
    m.set_native_fn("base64_encode_nopad", |blob: Blob| {
        Ok(kdf::base64_encode_nopad(&blob))
    });
    m.set_native_fn("base64_decode", |ctx: Ctx, text: &str| {
        at(&ctx, decoded("base64_decode", kdf::base64_decode(text)))
    });
    m.set_native_fn("base64url_encode", |blob: Blob| {
        Ok(kdf::base64url_encode(&blob))
    });
    m.set_native_fn("base64url_decode", |ctx: Ctx, text: &str| {
        at(
            &ctx,
            decoded("base64url_decode", kdf::base64url_decode(text)),
        )
    });
    m.set_native_fn("crypt64_encode", |blob: Blob| {
        Ok(kdf::crypt64_encode(&blob))
    });
    m.set_native_fn("crypt64_decode", |ctx: Ctx, text: &str| {
        at(&ctx, decoded("crypt64_decode", kdf::crypt64_decode(text)))
    });
    m.set_native_fn(
        "constant_time_eq",
        |ctx: Ctx, a: Dynamic, b: Dynamic| -> Fallible<bool> {
            use subtle::ConstantTimeEq;
            at(&ctx, {
                let run = || -> Fallible<bool> {
                    let (a, b) = (bytes("a", a)?, bytes("b", b)?);
                    Ok(a.ct_eq(&b).into())
                };
                run()
            })
        },
    );
    m
}
