"""Collectors: services that receive logs and queue them durably on the bus."""
