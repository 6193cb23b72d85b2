//! How the demo prints things for a person: JSON with response URLs cut
//! short (their query string is a credential), and associations as a table.

use serde_json::Value;

use crate::bucket::SIGNATURE;
use crate::eks::model::Association;

/// `value` with the query string of every URL-like string removed.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(redact_text(s)),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), redact(v))).collect())
        }
        other => other.clone(),
    }
}

/// `text` with presigned query strings cut off and the signature masked.
pub fn redact_text(text: &str) -> String {
    let cut = match text.find("?X-Amz-") {
        Some(at) => format!("{}?<query redacted>", &text[..at]),
        None => text.to_string(),
    };
    cut.replace(SIGNATURE, "<redacted>")
}

/// Pretty JSON, redacted.
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(&redact(value)).unwrap_or_else(|_| redact_text(&value.to_string()))
}

/// Associations as an aligned text table, or a note that there are none.
pub fn table(associations: &[Association]) -> String {
    if associations.is_empty() {
        return "  (no associations)".to_string();
    }
    let header = [
        "REGION",
        "CLUSTER",
        "NAMESPACE",
        "SERVICE ACCOUNT",
        "ID",
        "ROLE",
        "TARGET ROLE",
        "TAGS",
    ];
    let rows: Vec<[String; 8]> = associations
        .iter()
        .map(|a| {
            [
                a.region.clone(),
                a.cluster_name.clone(),
                a.namespace.clone(),
                a.service_account.clone(),
                a.association_id.clone(),
                a.role_arn.clone(),
                a.target_role_arn.clone().unwrap_or_else(|| "-".into()),
                a.tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("  {}", padded.join("  ").trim_end())
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn response_urls_lose_their_query() {
        let url = crate::bucket::presigned_url("http://127.0.0.1:9", "k");
        let v = json!({"ResponseURL": url, "nested": [url.clone()], "n": 1});
        let shown = pretty(&v);
        assert!(!shown.contains(SIGNATURE));
        assert!(!shown.contains("X-Amz-"));
        assert!(shown.contains("http://127.0.0.1:9/bucket/k?<query redacted>"));
        assert_eq!(redact_text(&format!("sig={SIGNATURE}")), "sig=<redacted>");
    }

    #[test]
    fn tables_align_and_say_when_empty() {
        assert_eq!(table(&[]), "  (no associations)");
        let a = crate::eks::model::Association {
            region: "us-east-1".into(),
            cluster_name: "prod".into(),
            namespace: "apps".into(),
            service_account: "web".into(),
            role_arn: "arn:aws:iam::111122223333:role/r".into(),
            association_arn: String::new(),
            association_id: "a-0123456789abcdefg".into(),
            tags: [("team".to_string(), "x".to_string())].into(),
            created_at: 0.0,
            modified_at: 0.0,
            disable_session_tags: false,
            target_role_arn: None,
            external_id: None,
            policy: None,
        };
        let t = table(&[a]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("CLUSTER"), lines[1].find("prod"));
        assert!(lines[1].contains("team=x"));
    }
}
