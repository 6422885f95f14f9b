//! What a phone app may do: open a gate, and classify only through a session the gate opened.
use motiongate::consent::{CollectionMethod, Gate, Sensors};
use motiongate::{ActivityEvent, Sample};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("motiongate-phone-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let gate = Gate::open(dir.join("consent.json"), &[7u8; 32], "activity-recognition", 1)?;
    gate.grant(1_700_000_000_000, CollectionMethod::InAppDialog, Sensors::ALL)?;
    let mut session = gate.open_session()?;
    session.push(&[Sample::accel(0, 0.0, 0.0, 9.81)])?;
    let _: Option<ActivityEvent> = session.next_event();
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
