//! Alpaca error bodies (`{"code":…, "message":…}`, Go-escaped like `\u0026`, which JSON
//! decoding undoes) to [`BrokerError`]s that keep an order single.

use crate::broker::BrokerError;

/// Alpaca's message and the figures it sends with it (`buying_power`, `cost_basis`, …).
pub fn describe(status: u16, body: &[u8]) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.is_empty() {
            format!("HTTP {status}")
        } else {
            format!(
                "HTTP {status}: {}",
                crate::redact::scrub_owned(text.chars().take(200).collect::<String>())
            )
        };
    };
    let message = map
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("no message")
        .to_string();
    let figures: Vec<String> = map
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "message" | "code"))
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k} {s}"),
            other => format!("{k} {other}"),
        })
        .collect();
    let code = map
        .get("code")
        .map(|c| format!(" (code {c})"))
        .unwrap_or_default();
    let text = if figures.is_empty() {
        format!("{message}{code}")
    } else {
        format!("{message}{code}: {}", figures.join(", "))
    };
    crate::redact::scrub_owned(text)
}

/// A 403 about an order (Alpaca code 403xxxxx with an order message: buying power, quantity,
/// wash trade), as opposed to one about the keys.
pub fn is_order_refusal(body: &[u8]) -> bool {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let message = v
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    [
        "insufficient",
        "buying power",
        "wash trade",
        "qty",
        "quantity",
        "shortable",
        "day trading",
    ]
    .iter()
    .any(|w| message.contains(w))
}

/// Whether a 422 says the client order id is taken.
pub fn is_duplicate_client_id(body: &[u8]) -> bool {
    String::from_utf8_lossy(body)
        .to_ascii_lowercase()
        .contains("client_order_id must be unique")
}

/// The error for a non-retryable reply to a request about `symbol` (or `-`).
pub fn classify(
    broker: &str,
    keys: &str,
    status: u16,
    body: &[u8],
    symbol: &str,
    order_request: bool,
) -> BrokerError {
    let detail = describe(status, body);
    match status {
        401 => BrokerError::Unauthorized {
            broker: broker.to_string(),
            detail: format!("{detail}; check {keys}"),
        },
        403 if !(order_request && is_order_refusal(body)) => BrokerError::Unauthorized {
            broker: broker.to_string(),
            detail: format!("{detail}; check {keys}"),
        },
        _ => BrokerError::Rejected {
            broker: broker.to_string(),
            symbol: symbol.to_string(),
            reason: detail,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_escaped_messages_and_figures() {
        let body = br#"{"code":40310000,"message":"insufficient buying power \u0026 more","buying_power":"12.50","cost_basis":"500"}"#;
        let d = describe(403, body);
        assert!(d.contains("insufficient buying power & more"), "{d}");
        assert!(
            d.contains("buying_power 12.50") && d.contains("cost_basis 500"),
            "{d}"
        );
        assert!(is_order_refusal(body));
        let e = classify("alpaca-paper", "K/S", 403, body, "SPY", true);
        assert!(matches!(e, BrokerError::Rejected { .. }), "{e}");
        let e = classify(
            "alpaca-paper",
            "K/S",
            403,
            br#"{"code":40310000,"message":"forbidden"}"#,
            "SPY",
            true,
        );
        assert!(matches!(e, BrokerError::Unauthorized { .. }) && e.to_string().contains("K/S"));
        let e = classify("alpaca-paper", "K/S", 401, b"", "-", false);
        assert!(matches!(e, BrokerError::Unauthorized { .. }));
        assert!(is_duplicate_client_id(
            br#"{"code":40010001,"message":"client_order_id must be unique"}"#
        ));
    }
}
