"""The secretariat's commands: `CommandService` loads, decides (`service.rules`),
appends and answers, keeping folded states between commands. No HTTP imports.
"""
