"""The camera family: shot spec, batched camera twin, camera task."""
