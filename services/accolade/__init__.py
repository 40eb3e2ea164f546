"""Accolade: gamification for contact centers."""
