"""The pack as a service: courses, quotes, tax, IT subsidy, insurance, onboarding."""
