package pgmigrate_test

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/hookkit/hookkit/internal/pgmigrate"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr string
	}{
		{name: "migrations come back in version order, not name order",
			files: fstest.MapFS{"m/10_b.sql": file("B"), "m/2_a.sql": file("A"), "m/0001_init.sql": file("I")},
			want:  []int{1, 2, 10}},
		{name: "a file without a version is refused",
			files: fstest.MapFS{"m/init.sql": file("x")}, wantErr: "positive version number"},
		{name: "version zero is refused",
			files: fstest.MapFS{"m/0_init.sql": file("x")}, wantErr: "positive version number"},
		{name: "two files with one version are refused",
			files: fstest.MapFS{"m/1_a.sql": file("x"), "m/01_b.sql": file("y")}, wantErr: "two migrations with version 1"},
		{name: "a missing directory is an error",
			files: fstest.MapFS{}, wantErr: "m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms, err := pgmigrate.Load(tc.files, "m")
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, "I", ms[0].SQL)
			require.Equal(t, "0001_init.sql", ms[0].Name)
		})
	}
}
