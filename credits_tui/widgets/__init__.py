"""Widgets the screens share: money, amounts, the card form, tables, time frames, errors."""
