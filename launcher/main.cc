// cohortrun entry point (placeholder until the launcher lands).
int main() { return 0; }
