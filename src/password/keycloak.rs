//! `password::verify_keycloak`: a row of Keycloak's `CREDENTIAL` table of
//! type `password`, its `SECRET_DATA` and `CREDENTIAL_DATA` columns.

use serde_json::Value;
use subtle::ConstantTimeEq;

use super::kdf::{self, Digest};
use super::HashError;

const F: &str = "Keycloak credential";

fn missing(field: &str) -> HashError {
    HashError::MissingField(field.to_string())
}

/// An Argon2 parameter as Keycloak writes it: a one-string array
/// (`"memory": ["7168"]`), or a bare string or number.
fn parameter(params: &Value, name: &str) -> Result<String, HashError> {
    let v = params
        .get(name)
        .ok_or_else(|| missing(&format!("additionalParameters.{name}")))?;
    let v = match v {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    };
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(missing(&format!("additionalParameters.{name}"))),
    }
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, HashError> {
    text.parse().map_err(|_| HashError::Malformed(F))
}

/// Is `plain` the password of this credential row?
pub fn verify_keycloak(plain: &str, secret: &Value, credential: &Value) -> Result<bool, HashError> {
    let b64 = |field: &str| -> Result<Vec<u8>, HashError> {
        let text = secret
            .get(field)
            .and_then(Value::as_str)
            .ok_or_else(|| missing(field))?;
        kdf::base64_decode(text).ok_or(HashError::Malformed(F))
    };
    // The algorithm first: one we do not know is named as such, whatever
    // else the row lacks.
    let algorithm = credential
        .get("algorithm")
        .and_then(Value::as_str)
        .ok_or_else(|| missing("algorithm"))?;
    let pbkdf2 = match algorithm {
        "pbkdf2" => Some(Digest::Sha1),
        "pbkdf2-sha256" => Some(Digest::Sha256),
        "pbkdf2-sha512" => Some(Digest::Sha512),
        "argon2" => None,
        other => {
            return Err(HashError::UnknownName(format!(
                "Keycloak algorithm {}",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    let expected = b64("value")?;
    let salt = b64("salt")?;
    let iterations = credential
        .get("hashIterations")
        .and_then(Value::as_u64)
        .ok_or_else(|| missing("hashIterations"))?;
    let pw = plain.as_bytes();
    let computed = match pbkdf2 {
        Some(prf) => {
            kdf::pbkdf2_costs(F, iterations, expected.len())?;
            if expected.len() < super::MIN_KEY_BYTES {
                return Err(HashError::Malformed(F));
            }
            kdf::pbkdf2(F, prf, pw, &salt, iterations, expected.len())?
        }
        None => {
            let params = credential
                .get("additionalParameters")
                .ok_or_else(|| missing("additionalParameters"))?;
            let variant =
                kdf::argon2_variant(&parameter(params, "type")?).ok_or(HashError::Malformed(F))?;
            let version = match parameter(params, "version")?.as_str() {
                "1.3" => argon2::Version::V0x13,
                "1.0" => argon2::Version::V0x10,
                _ => return Err(HashError::Malformed(F)),
            };
            let length: usize = number(&parameter(params, "hashLength")?)?;
            // past u32, past the caps too
            let memory: u32 = number::<u64>(&parameter(params, "memory")?)?
                .try_into()
                .unwrap_or(u32::MAX);
            let lanes: u32 = number::<u64>(&parameter(params, "parallelism")?)?
                .try_into()
                .unwrap_or(u32::MAX);
            // past u32, past the cap of 16 passes too
            let t = u32::try_from(iterations).unwrap_or(u32::MAX);
            kdf::argon2(F, variant, version, pw, &salt, t, memory, lanes, length)?
        }
    };
    Ok(computed.ct_eq(&expected).into())
}
