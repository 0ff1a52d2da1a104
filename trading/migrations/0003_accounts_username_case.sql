-- A username is unique whatever its case: "Zhangsan" and "zhangsan" would be two accounts a person cannot tell
-- apart. Sign-in finds the user the same way (trading/accounts/repository.py); the name is kept as typed.
CREATE UNIQUE INDEX users_username_ci_idx ON users (lower(username));
