"""Second factors and step-up: TOTP and recovery codes, SMS codes, agents' sign-in factor,
step-up challenges bound to an operation, four-eyes approvals."""
