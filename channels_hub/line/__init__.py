"""LINE as a channel of the contact hub: official accounts, their webhook, account linking to members,
replies by the reply or push API, and the consent (follow / block) that LINE campaigns rely on.

Everything speaks to LINE through the official SDK (`line-bot-sdk` v3) in `client.py`; `fake.py` is a
small local LINE API for the tests and for trying the flow with `make run`.
"""
