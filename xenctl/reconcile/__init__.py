"""Reconciling desired state with a live host: diff, plan, apply, saved plans, rendering."""
