"""Liquidation disputes: recompute the liquidation, check the market around it, explain it."""
