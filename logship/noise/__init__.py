"""Noise control: the pipeline's step between routing and the sink queues.

- dedupe windows (`dedupe`, `edits`): a route's repeats of one error are counted, and its
  first message is edited to show how many;
- storm mode (`storm`): a sink that gets more than its channel takes for long sends
  summaries instead of each event, every counted event attached in full;
- `fingerprint`: what "the same error" means for both (and for routes that match it);
- `control.NoiseControl`: the step the pipeline calls.
"""
