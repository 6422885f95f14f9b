//! Every line below reaches one stage of the classification pipeline without a gate. In a phone build (no default
//! features) each must fail to compile: `.ci/run` counts the errors and fails if any of these lines compiles.
fn main() {
    let _ = motiongate::pipeline::Pipeline::new(Default::default());
    let _ = motiongate::resample::Resampler::new(2_000_000_000);
    let _ = motiongate::fusion::Fusion::new();
    let _ = <motiongate::window::WindowRing as Default>::default();
    let _ = motiongate::features::FeatureExtractor::new();
    let _ = motiongate::model::Model::embedded();
    let _ = motiongate::Model::embedded();
    let _ = motiongate::smooth::SmootherConfig::default();
    let _ = motiongate::event::EventQueue::with_capacity(4);
}
