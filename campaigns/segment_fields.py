"""Segment fields that read other apps (loyalty, contact hub, reservations). Each is registered only
when the owning app's model exists, so campaigns works whichever of them have landed."""
