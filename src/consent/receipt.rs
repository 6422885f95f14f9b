//! A human-readable consent receipt, after the fields of the Kantara Initiative Consent Receipt Specification
//! (v1.1) that apply to an on-device classifier. It never contains sensor data.

use serde::Serialize;

use super::store::{AuditEntry, Store};
use super::{ConsentState, StateKind};

/// Controller name used when the host gives none.
pub const DEFAULT_CONTROLLER: &str = "the host application";

/// Receipt format identifier.
pub const RECEIPT_VERSION: &str = "motiongate-receipt/1 (after Kantara Consent Receipt 1.1)";

const PROCESSING: &str = "on the device only; raw motion samples are never stored or transmitted; only the \
                          detected activity, a confidence and times leave the classifier";

/// A consent receipt (Kantara-style fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// Receipt format.
    pub version: String,
    /// Stable id derived from the authenticated grant entry (the same grant always gives the same id).
    pub receipt_id: String,
    /// Jurisdiction, when the host names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<String>,
    /// Consent time, Unix ms.
    pub consent_timestamp_unix_ms: u64,
    /// Consent time, ISO 8601 UTC.
    pub consent_timestamp: String,
    /// How consent was collected.
    pub collection_method: String,
    /// Who is responsible for the processing.
    pub controller: String,
    /// The purpose consented to.
    pub purpose: String,
    /// The policy version consented to.
    pub policy_version: u32,
    /// Categories of personal data processed.
    pub pii_categories: Vec<String>,
    /// Where and how the data is processed.
    pub processing: String,
    /// Whether the consent is in force now.
    pub status: String,
    /// How to withdraw.
    pub withdrawal: String,
    /// Sequence number of the grant in the audit log.
    pub record_seq: u64,
}

impl Receipt {
    pub(crate) fn build(
        store: &Store,
        grant: &AuditEntry,
        state: &ConsentState,
        controller: &str,
        jurisdiction: Option<&str>,
    ) -> Receipt {
        let mut pii = Vec::new();
        if let Some(s) = grant.sensors {
            if s.accelerometer {
                pii.push("accelerometer motion samples".to_owned());
            }
            if s.gyroscope {
                pii.push("gyroscope motion samples".to_owned());
            }
        }
        let status = match state {
            ConsentState::Granted(g) if g.at_unix_ms == grant.at_unix_ms => "active".to_owned(),
            ConsentState::Withdrawn { at_unix_ms } => format!("withdrawn at {}", iso8601(*at_unix_ms)),
            other => other.kind().to_string(),
        };
        let status = if state.kind() == StateKind::Granted && status != "active" {
            "replaced by a later grant".to_owned()
        } else {
            status
        };
        Receipt {
            version: RECEIPT_VERSION.to_owned(),
            receipt_id: store.receipt_id(grant),
            jurisdiction: jurisdiction.map(str::to_owned),
            consent_timestamp_unix_ms: grant.at_unix_ms,
            consent_timestamp: iso8601(grant.at_unix_ms),
            collection_method: grant.method.map(|m| m.name()).unwrap_or("unknown").to_owned(),
            controller: controller.to_owned(),
            purpose: grant.purpose.clone(),
            policy_version: grant.policy_version,
            pii_categories: pii,
            processing: PROCESSING.to_owned(),
            status,
            withdrawal: format!(
                "Withdraw at any time, as easily as you granted: in the app's privacy settings, or with \
                 `motiongate consent withdraw --purpose {}`. Withdrawal stops classification at once and wipes \
                 the motion buffers.",
                grant.purpose
            ),
            record_seq: grant.seq,
        }
    }

    /// The receipt as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The receipt as plain text for people.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let mut line = |k: &str, v: &str| {
            t.push_str(k);
            t.push_str(": ");
            t.push_str(v);
            t.push('\n');
        };
        line("Consent receipt", &self.receipt_id);
        line("Format", &self.version);
        if let Some(j) = &self.jurisdiction {
            line("Jurisdiction", j);
        }
        line("Given at", &self.consent_timestamp);
        line("Collected via", &self.collection_method);
        line("Controller", &self.controller);
        line("Purpose", &self.purpose);
        line("Policy version", &self.policy_version.to_string());
        line("Data", &self.pii_categories.join(", "));
        line("Processing", &self.processing);
        line("Status", &self.status);
        line("How to withdraw", &self.withdrawal);
        t
    }
}

/// Unix ms -> `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, UTC).
pub(crate) fn iso8601(unix_ms: u64) -> String {
    let ms = unix_ms % 1000;
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
