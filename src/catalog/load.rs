//! Reading catalogs: the built-in messaging catalog, Swagger 2.0 documents (the API's own
//! `/api/v2/docs/swagger`, with `security`, `x-inin-requires-permissions` and
//! `x-inin-error-codes`), and the operations-catalog JSON (operationId → {method, path,
//! security}). Only the fields triage uses are deserialised; the rest (schemas, definitions)
//! is skipped without being built, so a full document loads fast and small.

use std::collections::BTreeMap;

use http::Method;
use serde::Deserialize;

use super::{Catalog, Operation, PermissionMode, Source};
use crate::error::Error;

const BUILTIN: &str = include_str!("messaging.ops");

/// The compact catalog compiled into triage (messaging, web messaging, tokens).
pub fn builtin() -> Catalog {
    let ops = parse_ops(BUILTIN).expect("the built-in catalog is valid (tested)");
    Catalog::new(ops, Source::Builtin)
}

/// Parses the `messaging.ops` line format.
pub fn parse_ops(text: &str) -> Result<Vec<Operation>, Error> {
    let mut ops = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || Error::Input(format!("built-in catalog line {}: {line:?}", n + 1));
        let f: Vec<&str> = line.split_whitespace().collect();
        let [method, path, id, scopes, perms] = f[..] else {
            return Err(bad());
        };
        let method = Method::from_bytes(method.as_bytes()).map_err(|_| bad())?;
        let scopes = match scopes {
            "?" => None,
            "-" => Some(vec![]),
            s => Some(s.split(',').map(str::to_owned).collect()),
        };
        let permissions = match perms {
            "?" => None,
            "-" => Some(None),
            p => {
                let (mode, list) = p.split_once(':').ok_or_else(bad)?;
                let mode = match mode {
                    "ALL" => PermissionMode::All,
                    "ANY" => PermissionMode::Any,
                    _ => return Err(bad()),
                };
                Some(Some((mode, list.split(',').map(str::to_owned).collect())))
            }
        };
        ops.push(Operation {
            id: id.to_owned(),
            method,
            path: path.to_owned(),
            summary: None,
            scopes,
            permissions,
            error_codes: vec![],
            deprecated: false,
        });
    }
    Ok(ops)
}

#[derive(Deserialize)]
struct Swagger {
    #[serde(default)]
    swagger: Option<String>,
    #[serde(default)]
    paths: BTreeMap<String, PathItem>,
}

#[derive(Deserialize, Default)]
struct PathItem {
    get: Option<RawOp>,
    put: Option<RawOp>,
    post: Option<RawOp>,
    delete: Option<RawOp>,
    patch: Option<RawOp>,
    head: Option<RawOp>,
    options: Option<RawOp>,
}

#[derive(Deserialize)]
struct RawOp {
    #[serde(rename = "operationId")]
    operation_id: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    security: Option<Vec<BTreeMap<String, Vec<String>>>>,
    #[serde(rename = "x-inin-requires-permissions")]
    permissions: Option<RawPerms>,
    #[serde(default)]
    responses: BTreeMap<String, RawResponse>,
    #[serde(default)]
    deprecated: bool,
}

#[derive(Deserialize)]
struct RawPerms {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    permissions: Vec<String>,
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(rename = "x-inin-error-codes", default)]
    codes: BTreeMap<String, String>,
}

/// The operations-catalog JSON: `{ "<operationId>": { "method", "path", "summary", "security" } }`.
#[derive(Deserialize)]
struct CatEntry {
    #[serde(rename = "operationId")]
    operation_id: String,
    method: String,
    path: String,
    summary: Option<String>,
    #[serde(default)]
    security: Option<Vec<BTreeMap<String, Vec<String>>>>,
}

fn scopes_of(security: Option<Vec<BTreeMap<String, Vec<String>>>>) -> Option<Vec<String>> {
    let security = security?;
    let mut out = Vec::new();
    for req in security {
        for (scheme, scopes) in req {
            if scheme == "PureCloud OAuth" {
                out.extend(scopes);
            } else if scheme == "PureCloud Auth" {
                // The 2018 document names one catch-all scope: it says nothing per operation.
                return None;
            } else {
                out.push(format!("<{}>", scheme.replace(' ', "-")));
            }
        }
    }
    Some(out)
}

/// Reads a catalog from a JSON document: Swagger 2.0 / OpenAPI with `paths`, or the
/// operations-catalog form. `label` names the source in messages.
pub fn from_json(bytes: &[u8], source: Source) -> Result<Catalog, Error> {
    let label = source.to_string();
    let peek: serde_json::Map<String, serde_json::Value> = {
        // Decide the shape from the top-level keys without building the document.
        let keys: BTreeMap<String, serde::de::IgnoredAny> = serde_json::from_slice(bytes)
            .map_err(|e| Error::Input(format!("{label}: not a JSON object: {e}")))?;
        keys.into_keys()
            .map(|k| (k, serde_json::Value::Null))
            .collect()
    };
    let ops = if peek.contains_key("paths") {
        let doc: Swagger =
            serde_json::from_slice(bytes).map_err(|e| Error::Input(format!("{label}: {e}")))?;
        let _ = doc.swagger;
        swagger_ops(doc)
    } else {
        let doc: BTreeMap<String, CatEntry> = serde_json::from_slice(bytes).map_err(|e| {
            Error::Input(format!(
                "{label}: neither a Swagger document (no `paths`) nor an operations catalog: {e}"
            ))
        })?;
        doc.into_values()
            .filter_map(|e| {
                Some(Operation {
                    id: e.operation_id,
                    method: Method::from_bytes(e.method.to_ascii_uppercase().as_bytes()).ok()?,
                    path: e.path,
                    summary: e.summary.filter(|s| !s.is_empty()),
                    scopes: scopes_of(e.security),
                    // That catalog's `requiredPermissions` repeats the scopes (SOURCE.md): unknown.
                    permissions: None,
                    error_codes: vec![],
                    deprecated: false,
                })
            })
            .collect()
    };
    if ops.is_empty() {
        return Err(Error::Input(format!("{label}: no operations found")));
    }
    Ok(Catalog::new(ops, source))
}

fn swagger_ops(doc: Swagger) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in doc.paths {
        let methods = [
            (Method::GET, item.get),
            (Method::PUT, item.put),
            (Method::POST, item.post),
            (Method::DELETE, item.delete),
            (Method::PATCH, item.patch),
            (Method::HEAD, item.head),
            (Method::OPTIONS, item.options),
        ];
        for (method, raw) in methods {
            let Some(raw) = raw else { continue };
            let mut error_codes: Vec<(u16, String, String)> = raw
                .responses
                .into_iter()
                .filter_map(|(status, r)| status.parse::<u16>().ok().map(|s| (s, r.codes)))
                .flat_map(|(s, codes)| codes.into_iter().map(move |(c, m)| (s, c, m)))
                .collect();
            error_codes.sort();
            let permissions = raw.permissions.map(|p| {
                let mode = if p.kind.eq_ignore_ascii_case("ANY") {
                    PermissionMode::Any
                } else {
                    PermissionMode::All
                };
                (!p.permissions.is_empty()).then_some((mode, p.permissions))
            });
            ops.push(Operation {
                id: raw
                    .operation_id
                    .unwrap_or_else(|| format!("{method} {path}")),
                method,
                path: path.clone(),
                summary: raw.summary.filter(|s| !s.is_empty()),
                scopes: scopes_of(raw.security),
                permissions,
                error_codes,
                deprecated: raw.deprecated,
            });
        }
    }
    ops
}

/// Reads a catalog document from a file.
pub fn from_file(path: &std::path::Path) -> Result<Catalog, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    from_json(&bytes, Source::File(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_every_line() {
        let c = builtin();
        assert_eq!(c.len(), 215);
        let op = c.get("getTokensMe").unwrap();
        assert_eq!(
            op.scopes.as_deref(),
            Some(&["user-basic-info".to_owned()][..])
        );
        assert_eq!(op.permissions, Some(None));
        let op = c.get("getWebmessagingMessages").unwrap();
        assert_eq!(op.scopes_text(), "<Webmessaging-JWT>");
    }

    #[test]
    fn swagger_extensions_are_read() {
        let doc = br#"{"swagger":"2.0","paths":{"/api/v2/x/{id}":{
            "parameters":[],
            "get":{"operationId":"getX","summary":"Get x","security":[{"PureCloud OAuth":["x","x:readonly"]}],
              "x-inin-requires-permissions":{"type":"ANY","permissions":["x:view"]},
              "responses":{"200":{"description":"ok"},"409":{"x-inin-error-codes":{"request.conflict":"The request conflicts"}}}},
            "delete":{"operationId":"deleteX"}}}, "definitions":{"Huge":{"type":"object"}}}"#;
        let c = from_json(doc, Source::File("t".into())).unwrap();
        let op = c.get("getX").unwrap();
        assert_eq!(op.scopes_text(), "x, x:readonly");
        assert_eq!(op.permissions_text(), "any of: x:view");
        assert_eq!(
            op.error_codes,
            vec![(
                409,
                "request.conflict".into(),
                "The request conflicts".into()
            )]
        );
        assert_eq!(c.get("deleteX").unwrap().permissions_text(), "unknown");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let e = from_json(b"[1,2]", Source::File("spec.json".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.json"), "{e}");
        let e = from_json(b"{\"a\":1}", Source::File("spec.json".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.json"), "{e}");
    }
}
