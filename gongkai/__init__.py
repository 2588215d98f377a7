"""Gongkai: publish budget performance targets as a static website."""
